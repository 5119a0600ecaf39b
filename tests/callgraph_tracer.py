"""Runtime ground truth for the call-graph snippet suite: run a snippet, record its calls.

A snippet directory is run in a fresh interpreter (cwd and ``sys.path[0]`` = the
directory) under ``sys.setprofile``. Every call whose caller is code of the snippet is
recorded under PyCG's names, so a hand-written expected graph can be checked against
what Python actually did rather than against anyone's analysis:

- callee: a function, method or lambda of the snippet (a ``call`` event), or a builtin
  function of :mod:`builtins` (a ``c_call`` event: ``len`` becomes ``<builtin>.len``);
- caller: the code the call counts for. Comprehensions, generator expressions and class
  bodies count for their lexically enclosing function (or module); a call made by C code,
  library code or ``eval``/``exec`` code on the snippet's behalf (``map``, a ``sorted``
  key, ``functools.reduce``) counts for the nearest snippet frame below it. Builtins
  called by library code are the library's business and are not recorded;
- names come from a static scan of the snippet: ``module.Class.method``, nested
  ``module.f.g``, lambdas ``<lambdaN>`` numbered in source order within their enclosing
  def, class or module; runtime code objects are matched to the scan by file, qualname,
  first line and, for lambdas and comprehensions, source position.

What a profiler cannot see is left out on purpose and must be judged by hand: calls of
builtin types (``range``, ``super``, ``map`` itself), of library functions, and class
instantiation of classes without an ``__init__`` of their own. A generator's frame first
runs when it is first resumed, so its call is attributed to the frame that first resumes
it; suite snippets create and first iterate a generator in the same scope.

Run as a script (``python callgraph_tracer.py SNIPPET_DIR OUT_JSON``) it is the child
process; :func:`trace` is the parent side.
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import runpy
import subprocess
import sys
import tempfile
import types
from pathlib import Path
from typing import Any, Literal

import msgspec

ScopeKind = Literal["module", "function", "lambda", "class", "comprehension"]
# A frame of one of these resumes rather than starts on every event after the first.
_GENERATOR_FLAGS = 0x20 | 0x80 | 0x200  # CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR
_COMPREHENSIONS = {
    ast.ListComp: "<listcomp>",
    ast.SetComp: "<setcomp>",
    ast.DictComp: "<dictcomp>",
    ast.GeneratorExp: "<genexpr>",
}
BUILTIN_PREFIX = "<builtin>."
# The file name of code compiled at run time by eval/exec: it runs for the frame that ran it.
_DYNAMIC_CODE = "<string>"
_Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda


class Scope(msgspec.Struct, frozen=True):
    """One code-object-producing construct of the snippet, with its PyCG names."""

    kind: ScopeKind
    name: str  # PyCG name of the construct itself ("" for comprehensions)
    owner: str  # PyCG name of the function/lambda/module that calls inside count for
    path: str  # absolute path of the defining file
    py_qualname: str  # what CPython puts in ``co_qualname``
    line: int  # what CPython puts in ``co_firstlineno``
    span: tuple[int, int, int, int]  # (line, col, end line, end col) of the node

    @property
    def caller_name(self) -> str:
        return self.name if self.kind in ("module", "function", "lambda") else self.owner


class Trace(msgspec.Struct, frozen=True):
    """What one run of a snippet did: the observed edges and how the run ended."""

    edges: frozenset[tuple[str, str]]
    error: str | None  # "ExcType: message" when the snippet raised, else None


def module_name(root: Path, path: Path) -> str:
    """Dotted name of ``path`` under the snippet root (``pkg/__init__.py`` is ``pkg``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def snippet_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def scan(root: Path) -> list[Scope]:
    """Every scope of every module of the snippet at ``root``."""
    scopes: list[Scope] = []
    for path in snippet_files(root):
        tree = ast.parse(path.read_bytes(), filename=str(path))
        name = module_name(root, path)
        resolved = str(path.resolve())
        span = (1, 0, 1, 0)
        scopes.append(Scope("module", name, name, resolved, "<module>", 1, span))
        _Scanner(resolved, scopes).body(tree.body, name, name, "")
    return scopes


def defined_names(root: Path) -> set[str]:
    """PyCG names of every module, function, method and lambda the snippet defines."""
    return {s.name for s in scan(root) if s.kind in ("module", "function", "lambda")}


def observable(callee: str, defined: set[str]) -> bool:
    """Whether the tracer can see calls of ``callee`` (see the module docstring)."""
    if callee in defined:
        return True
    if callee.startswith(BUILTIN_PREFIX):
        target = getattr(builtins, callee.removeprefix(BUILTIN_PREFIX), None)
        return isinstance(target, types.BuiltinFunctionType)
    return False


class _Scanner:
    """Walks one module, naming scopes the way PyCG names them."""

    def __init__(self, path: str, out: list[Scope]) -> None:
        self.path = path
        self.out = out

    def body(
        self, nodes: list[ast.stmt] | list[ast.expr], prefix: str, owner: str, pyq: str
    ) -> None:
        numbers = _number_lambdas(nodes)
        for node in nodes:
            self.walk(node, prefix, owner, pyq, numbers)

    def walk(
        self, node: ast.AST, prefix: str, owner: str, pyq: str, numbers: dict[int, int]
    ) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for outer in _evaluated_outside(node):
                self.walk(outer, prefix, owner, pyq, numbers)
            name = f"{prefix}.{node.name}"
            self._add("function", name, owner, pyq + node.name, node)
            self.body(node.body, name, name, f"{pyq}{node.name}.<locals>.")
        elif isinstance(node, ast.ClassDef):
            for outer in _evaluated_outside(node):
                self.walk(outer, prefix, owner, pyq, numbers)
            name = f"{prefix}.{node.name}"
            self._add("class", name, owner, pyq + node.name, node)
            self.body(node.body, name, owner, f"{pyq}{node.name}.")
        elif isinstance(node, ast.Lambda):
            for outer in _evaluated_outside(node):
                self.walk(outer, prefix, owner, pyq, numbers)
            name = f"{prefix}.<lambda{numbers[id(node)]}>"
            self._add("lambda", name, owner, pyq + "<lambda>", node)
            self.body([node.body], name, name, f"{pyq}<lambda>.<locals>.")
        else:
            label = _COMPREHENSIONS.get(type(node))
            if label is not None:
                self._add("comprehension", "", owner, pyq + label, node)
                pyq = f"{pyq}{label}."
            for child in ast.iter_child_nodes(node):
                self.walk(child, prefix, owner, pyq, numbers)

    def _add(self, kind: ScopeKind, name: str, owner: str, pyq: str, node: ast.AST) -> None:
        assert isinstance(node, ast.stmt | ast.expr)
        decorators = getattr(node, "decorator_list", None)
        first = decorators[0].lineno if decorators else node.lineno
        end = (node.end_lineno or node.lineno, node.end_col_offset or 0)
        span = (node.lineno, node.col_offset, *end)
        self.out.append(Scope(kind, name, owner, self.path, pyq, first, span))


def _evaluated_outside(node: _Definition) -> list[ast.expr]:
    """Parts of a def, class or lambda that run in the enclosing scope."""
    if isinstance(node, ast.ClassDef):
        return node.decorator_list + node.bases + [k.value for k in node.keywords]
    parts = [] if isinstance(node, ast.Lambda) else list(node.decorator_list)
    return parts + node.args.defaults + [d for d in node.args.kw_defaults if d is not None]


def _number_lambdas(nodes: list[ast.stmt] | list[ast.expr]) -> dict[int, int]:
    """``id(lambda node) -> N`` for the lambdas directly in this scope, in source order."""
    found: list[ast.Lambda] = []
    stack: list[ast.AST] = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Lambda):
            found.append(node)
        if isinstance(node, _Definition):
            stack.extend(_evaluated_outside(node))
        else:
            stack.extend(ast.iter_child_nodes(node))
    found.sort(key=lambda n: (n.lineno, n.col_offset))
    return {id(n): i for i, n in enumerate(found, 1)}


class _Recorder:
    """The child's profile function: maps frames to scopes and collects edges."""

    def __init__(self, scopes: list[Scope]) -> None:
        self.edges: set[tuple[str, str]] = set()
        self._modules = {s.path: s for s in scopes if s.kind == "module"}
        self._by_key: dict[tuple[str, str, int], list[Scope]] = {}
        for s in scopes:
            if s.kind != "module":
                self._by_key.setdefault((s.path, s.py_qualname, s.line), []).append(s)
        self._cache: dict[types.CodeType, Scope | None] = {}
        self._started: set[types.FrameType] = set()  # generator frames already resumed once

    def scope(self, code: types.CodeType) -> Scope | None:
        if code not in self._cache:
            self._cache[code] = self._match(code)
        return self._cache[code]

    def _match(self, code: types.CodeType) -> Scope | None:
        if code.co_name == "<module>":
            return self._modules.get(code.co_filename)
        found = self._by_key.get((code.co_filename, code.co_qualname, code.co_firstlineno), [])
        if len(found) <= 1:
            return found[0] if found else None
        for line, _, col, end_col in code.co_positions():
            if line is None or col is None or (col, end_col) == (0, 0):
                continue
            inside = [s for s in found if _contains(s.span, line, col)]
            if inside:
                return min(inside, key=lambda s: (s.span[2] - s.span[0], s.span[3] - s.span[1]))
        return None

    def profile(self, frame: types.FrameType, event: str, arg: Any) -> None:
        if event == "call":
            callee = self.scope(frame.f_code)
            if callee is None or callee.kind not in ("function", "lambda"):
                return
            if frame.f_code.co_flags & _GENERATOR_FLAGS:
                if frame in self._started:
                    return
                self._started.add(frame)
            caller = frame.f_back
            while caller is not None and self.scope(caller.f_code) is None:
                caller = caller.f_back
            if caller is not None:
                owner = self.scope(caller.f_code)
                assert owner is not None
                self.edges.add((owner.caller_name, callee.name))
        elif event == "c_call":
            runner: types.FrameType | None = frame
            while runner is not None and runner.f_code.co_filename == _DYNAMIC_CODE:
                runner = runner.f_back
            here = None if runner is None else self.scope(runner.f_code)
            if (
                here is not None
                and isinstance(arg, types.BuiltinFunctionType)
                and arg.__self__ is builtins
                and not arg.__name__.startswith("_")
            ):
                self.edges.add((here.caller_name, BUILTIN_PREFIX + arg.__name__))


def _contains(span: tuple[int, int, int, int], line: int, col: int) -> bool:
    return (span[0], span[1]) <= (line, col) < (span[2], span[3])


def _child(root: Path, out: Path) -> None:
    """Run ``root/main.py`` under the recorder and write what it saw to ``out``."""
    recorder = _Recorder(scan(root))
    sys.path[0] = str(root)
    error: str | None = None
    sys.setprofile(recorder.profile)
    try:
        runpy.run_path(str(root / "main.py"), run_name="__main__")
    except BaseException as exc:  # the snippet's own failure is a result, not ours
        error = f"{type(exc).__name__}: {exc}"
    finally:
        sys.setprofile(None)
    out.write_text(json.dumps({"edges": sorted(recorder.edges), "error": error}))


def trace(root: Path, timeout: float = 60.0) -> Trace:
    """Run the snippet at ``root`` in a fresh interpreter and return what it called."""
    root = root.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "trace.json"
        subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), str(root), str(out)],
            cwd=root,
            check=True,
            timeout=timeout,
            capture_output=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        data = json.loads(out.read_text())
    return Trace(frozenset((a, b) for a, b in data["edges"]), data["error"])


if __name__ == "__main__":
    _child(Path(sys.argv[1]).resolve(), Path(sys.argv[2]))
