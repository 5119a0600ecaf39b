"""Architecture drift checker: AST rules guarding the invariants of ARCHITECTURE.md.

The code under ``src/codeanatomy`` is parsed, never imported, so the check is fast and
cannot be fooled by import-time side effects. Each violation prints as
``path:line: RULE message``; the exit status is 1 when there is any, 0 when clean.

D1 policy-from-names
    Planning and execution (``plan/``, ``execute/``) must decide from topology, schemas
    and statistics, never from a view or table name. Any ``.startswith``/``.endswith``
    call and any ``re``/``fnmatch`` call there is flagged, whatever the receiver, because
    affix and pattern tests are how name heuristics creep in. A genuine exception is
    recorded on the offending line as ``# drift: allow D1 <reason>``; an
    allow without a reason, for another rule, or on a line with nothing to allow is
    itself a violation, so escape hatches stay explained and never go stale.
D2 join-keys-without-override
    Join keys come from semantic types on annotated schemas. In ``semantics/``, a call
    passing hand-written join keys (``left_on=``/``right_on=``/``keys=``/``join_keys=``
    given a literal, a literal container or a module-level/ALL_CAPS name) must also pass
    a non-empty ``override_reason=`` string literal, so every override is recorded.
    Calls are matched by keyword, whatever the callee; keys computed at run time (local
    variables, attributes, calls — the compiler's own joins) are derived, not explicit.
D3 second-compile-path
    One compilation of the semantic program per run: ``compile_program`` may be called
    only from the modules in ``COMPILE_CALLERS``; any other call is a second path that
    could disagree with the manifest everyone else receives.
D4 module-level mutable registries
    Registries are bound per run into immutable maps. At module level a dict/list/set
    literal, comprehension or constructor bound to a non-ALL_CAPS name is flagged; an
    ALL_CAPS name bound to one is flagged where it is mutated anywhere in the module;
    every ``global`` statement is flagged. Tuples, frozensets, ``MappingProxyType`` and
    dunders such as ``__all__`` are fine.
D5 hand-copied schemas
    Evidence schemas come from the extractors' row declarations (``extract/schema.py``)
    and CPG schemas from the CPG contract (``semantics/cpg_schema.py``). Elsewhere a
    ``pa.schema``/``pa.struct`` call given a list/tuple literal of fields, or a literal
    list of ``pa.field(...)``/``("name", pa.type())`` entries, is a hand copy that will
    drift from its source and is flagged.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = Path("src") / "codeanatomy"

POLICY_DIRS = ("plan", "execute")
AFFIX_METHODS = frozenset({"startswith", "endswith"})
PATTERN_MODULES = frozenset({"re", "fnmatch"})

SPEC_DIRS = ("semantics",)
JOIN_KEY_KEYWORDS = frozenset({"left_on", "right_on", "keys", "join_keys"})
OVERRIDE_KEYWORD = "override_reason"

COMPILE_ENTRY = "compile_program"
COMPILE_CALLERS = frozenset({"pipeline.py"})

MUTABLE_CONSTRUCTORS = frozenset(
    {"dict", "list", "set", "defaultdict", "OrderedDict", "Counter", "deque", "bytearray"}
)
MUTATING_METHODS = frozenset(
    {
        "append",
        "appendleft",
        "extend",
        "extendleft",
        "add",
        "update",
        "setdefault",
        "pop",
        "popitem",
        "popleft",
        "clear",
        "insert",
        "remove",
        "discard",
        "sort",
        "reverse",
    }
)

SCHEMA_SOURCES = frozenset({"extract/schema.py", "semantics/cpg_schema.py"})
SCHEMA_CONSTRUCTORS = frozenset({"schema", "struct"})

_ALLOW = re.compile(r"#\s*drift:\s*allow\b\s*(?P<rule>\S*)\s*(?P<reason>.*)")
_ALL_CAPS = re.compile(r"_*[A-Z][A-Z0-9_]*")
_DUNDER = re.compile(r"__\w+__")


@dataclass(frozen=True, order=True)
class Violation:
    """One finding, ordered by location so output is stable."""

    path: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule} {self.message}"


@dataclass
class Module:
    """A parsed source file and the facts several rules share."""

    rel: str  # path relative to the package, POSIX separators
    shown: str  # path as printed, relative to the root
    tree: ast.Module
    source: str
    module_aliases: dict[str, str] = field(default_factory=dict)  # local name -> module
    name_aliases: dict[str, tuple[str, str]] = field(default_factory=dict)  # -> (module, name)

    def __post_init__(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    local = a.asname or a.name.partition(".")[0]
                    self.module_aliases[local] = a.name if a.asname else local
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    self.name_aliases[a.asname or a.name] = (node.module, a.name)

    def in_dirs(self, dirs: Iterable[str]) -> bool:
        return any(self.rel.startswith(f"{d}/") for d in dirs)

    def at(self, node: ast.AST, rule: str, message: str) -> Violation:
        return Violation(self.shown, getattr(node, "lineno", 1), rule, message)

    def resolve(self, func: ast.expr) -> tuple[str, str] | None:
        """(module, attribute) a call target refers to, when it is an imported module member."""
        if isinstance(func, ast.Name):
            return self.name_aliases.get(func.id)
        if isinstance(func, ast.Attribute):
            dotted = _dotted(func.value)
            if dotted is not None:
                head, _, rest = dotted.partition(".")
                module = self.module_aliases.get(head)
                if module is not None:
                    return (f"{module}.{rest}" if rest else module, func.attr)
        return None


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (n for n in ast.walk(tree) if isinstance(n, ast.Call))


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


# D1 ---------------------------------------------------------------------------------------


def _allow_comments(source: str) -> dict[int, tuple[str, str]]:
    """Line -> (rule, reason) of every ``# drift: allow`` comment."""
    found: dict[int, tuple[str, str]] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            m = _ALLOW.search(tok.string)
            if m:
                found[tok.start[0]] = (m["rule"], m["reason"].strip())
    return found


def _name_tests(mod: Module) -> Iterator[tuple[ast.Call, str]]:
    for call in _calls(mod.tree):
        if isinstance(call.func, ast.Attribute) and call.func.attr in AFFIX_METHODS:
            yield call, f"`.{call.func.attr}(...)` in policy code"
            continue
        target = mod.resolve(call.func)
        if target is not None and target[0] in PATTERN_MODULES:
            yield call, f"`{target[0]}.{target[1]}(...)` in policy code"


def check_policy_from_names(mod: Module) -> list[Violation]:
    allows = _allow_comments(mod.source)
    used: set[int] = set()
    out: list[Violation] = []
    if mod.in_dirs(POLICY_DIRS):
        for call, what in _name_tests(mod):
            span = range(call.lineno, (call.end_lineno or call.lineno) + 1)
            line = next((ln for ln in span if allows.get(ln, ("", ""))[0] == "D1"), None)
            if line is None:
                out.append(
                    mod.at(call, "D1", f"{what}: decide from topology, schemas or statistics")
                )
            else:
                used.add(line)
    for line, (rule, reason) in sorted(allows.items()):
        if rule != "D1":
            msg = f"`# drift: allow {rule}`: only `# drift: allow D1 <reason>` exists"
        elif not re.search(r"\w", reason):
            msg = "`# drift: allow D1` needs a reason after the rule id"
        elif line not in used:
            msg = "`# drift: allow D1` on a line with nothing to allow"
        else:
            continue
        out.append(Violation(mod.shown, line, "D1", msg))
    return out


# D2 ---------------------------------------------------------------------------------------


def _module_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for stmt in _module_statements(tree.body):
        for target in _assigned(stmt):
            names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _is_explicit_keys(value: ast.expr, module_names: set[str]) -> bool:
    """Whether a join-key argument is written out by hand rather than derived."""
    if isinstance(value, ast.Constant):
        return isinstance(value.value, str)
    if isinstance(value, ast.List | ast.Tuple | ast.Set):
        return True
    if isinstance(value, ast.Name):
        return value.id in module_names or bool(_ALL_CAPS.fullmatch(value.id))
    if isinstance(value, ast.BinOp):
        return _is_explicit_keys(value.left, module_names) or _is_explicit_keys(
            value.right, module_names
        )
    return False


def check_join_keys(mod: Module) -> list[Violation]:
    if not mod.in_dirs(SPEC_DIRS):
        return []
    module_names = _module_level_names(mod.tree)
    out: list[Violation] = []
    for call in _calls(mod.tree):
        kws = {k.arg: k.value for k in call.keywords if k.arg is not None}
        explicit = sorted(
            k for k in JOIN_KEY_KEYWORDS & kws.keys() if _is_explicit_keys(kws[k], module_names)
        )
        if not explicit:
            continue
        reason = kws.get(OVERRIDE_KEYWORD)
        if (
            isinstance(reason, ast.Constant)
            and isinstance(reason.value, str)
            and reason.value.strip()
        ):
            continue
        given = ", ".join(f"{k}=" for k in explicit)
        out.append(
            mod.at(
                call,
                "D2",
                f"explicit join keys ({given}) without a non-empty "
                f"{OVERRIDE_KEYWORD}= string literal; keys come from semantic types",
            )
        )
    return out


# D3 ---------------------------------------------------------------------------------------


def check_compile_path(mod: Module) -> list[Violation]:
    if mod.rel in COMPILE_CALLERS:
        return []
    local_names = {COMPILE_ENTRY} | {
        local for local, (_, name) in mod.name_aliases.items() if name == COMPILE_ENTRY
    }
    out: list[Violation] = []
    for call in _calls(mod.tree):
        f = call.func
        if (isinstance(f, ast.Name) and f.id in local_names) or (
            isinstance(f, ast.Attribute) and f.attr == COMPILE_ENTRY
        ):
            allowed = ", ".join(sorted(COMPILE_CALLERS))
            out.append(
                mod.at(
                    call, "D3", f"`{COMPILE_ENTRY}` called outside {allowed}: one compile per run"
                )
            )
    return out


# D4 ---------------------------------------------------------------------------------------


def _module_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements executed at import time, including inside module-level if/try/with."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If | ast.For | ast.While):
            yield from _module_statements(stmt.body)
            yield from _module_statements(stmt.orelse)
        elif isinstance(stmt, ast.With):
            yield from _module_statements(stmt.body)
        elif isinstance(stmt, ast.Try):
            for block in (stmt.body, stmt.orelse, stmt.finalbody):
                yield from _module_statements(block)
            for handler in stmt.handlers:
                yield from _module_statements(handler.body)


def _assigned(stmt: ast.stmt) -> list[ast.expr]:
    if isinstance(stmt, ast.Assign):
        return list(stmt.targets)
    if isinstance(stmt, ast.AnnAssign | ast.AugAssign):
        return [stmt.target]
    return []


def _bindings(stmt: ast.stmt) -> Iterator[tuple[ast.Name, ast.expr]]:
    """(name, value) pairs a module-level assignment binds, unpacking parallel tuples."""
    if not isinstance(stmt, ast.Assign | ast.AnnAssign) or stmt.value is None:
        return
    pairs: list[tuple[ast.expr, ast.expr]] = [(t, stmt.value) for t in _assigned(stmt)]
    while pairs:
        target, val = pairs.pop()
        if isinstance(target, ast.Name):
            yield target, val
        elif (
            isinstance(target, ast.Tuple | ast.List)
            and isinstance(val, ast.Tuple | ast.List)
            and len(target.elts) == len(val.elts)
        ):
            pairs.extend(zip(target.elts, val.elts, strict=True))


def _is_mutable(value: ast.expr) -> bool:
    if isinstance(value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp | ast.SetComp):
        return True
    return isinstance(value, ast.Call) and _call_name(value.func) in MUTABLE_CONSTRUCTORS


def _mutations(tree: ast.Module, names: set[str]) -> Iterator[tuple[ast.AST, str, str]]:
    """(node, name, how) for each in-place change of one of ``names``."""

    def named(node: ast.expr) -> str | None:
        return node.id if isinstance(node, ast.Name) and node.id in names else None

    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
            if (name := named(node.value)) is not None:
                yield node, name, "item assignment"
        elif isinstance(node, ast.AugAssign):
            if (name := named(node.target)) is not None:
                yield node, name, "augmented assignment"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in MUTATING_METHODS
            and (name := named(node.func.value)) is not None
        ):
            yield node, name, f".{node.func.attr}(...)"


def check_mutable_registries(mod: Module) -> list[Violation]:
    out: list[Violation] = []
    registries: set[str] = set()
    for stmt in _module_statements(mod.tree.body):
        for name, value in _bindings(stmt):
            if _DUNDER.fullmatch(name.id) or not _is_mutable(value):
                continue
            if _ALL_CAPS.fullmatch(name.id):
                registries.add(name.id)
            else:
                out.append(
                    mod.at(
                        name,
                        "D4",
                        f"module-level mutable `{name.id}`: use a tuple, frozenset or "
                        "MappingProxyType, or build it per run",
                    )
                )
    for node, registry, how in _mutations(mod.tree, registries):
        out.append(mod.at(node, "D4", f"module-level registry `{registry}` mutated by {how}"))
    out.extend(
        mod.at(node, "D4", f"`global {', '.join(node.names)}`: no module-level mutable state")
        for node in ast.walk(mod.tree)
        if isinstance(node, ast.Global)
    )
    return out


# D5 ---------------------------------------------------------------------------------------


def _is_pyarrow(mod: Module, func: ast.expr, names: frozenset[str]) -> bool:
    target = mod.resolve(func)
    return target is not None and target[0] == "pyarrow" and target[1] in names


def _is_field_entry(mod: Module, node: ast.expr) -> bool:
    if isinstance(node, ast.Call):
        return _is_pyarrow(mod, node.func, frozenset({"field"}))
    if isinstance(node, ast.Tuple) and len(node.elts) >= 2:
        name, typ = node.elts[0], node.elts[1]
        return (
            isinstance(name, ast.Constant)
            and isinstance(name.value, str)
            and isinstance(typ, ast.Call)
            and (target := mod.resolve(typ.func)) is not None
            and target[0] == "pyarrow"
        )
    return False


def check_hand_copied_schemas(mod: Module) -> list[Violation]:
    if mod.rel in SCHEMA_SOURCES:
        return []
    out: list[Violation] = []
    reported: set[int] = set()
    for call in _calls(mod.tree):
        if not _is_pyarrow(mod, call.func, SCHEMA_CONSTRUCTORS):
            continue
        fields = call.args[0] if call.args else None
        fields = next((k.value for k in call.keywords if k.arg == "fields"), fields)
        if isinstance(fields, ast.List | ast.Tuple):
            reported.add(id(fields))
            name = _dotted(call.func)
            out.append(
                mod.at(call, "D5", f"`{name}([...])` with literal fields: derive the schema")
            )
    for node in ast.walk(mod.tree):
        if (
            isinstance(node, ast.List | ast.Tuple)
            and id(node) not in reported
            and any(_is_field_entry(mod, e) for e in node.elts)
        ):
            out.append(mod.at(node, "D5", "literal list of Arrow fields: derive the schema"))
    return out


# driver -----------------------------------------------------------------------------------

RULES = (
    check_policy_from_names,
    check_join_keys,
    check_compile_path,
    check_mutable_registries,
    check_hand_copied_schemas,
)


def check_file(path: Path, root: Path) -> list[Violation]:
    """Every violation in one source file under ``root / PACKAGE``."""
    shown = path.relative_to(root).as_posix()
    source = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(source, filename=shown)
    except SyntaxError as exc:
        return [Violation(shown, exc.lineno or 1, "PARSE", f"cannot parse: {exc.msg}")]
    mod = Module(path.relative_to(root / PACKAGE).as_posix(), shown, tree, source)
    return [v for rule in RULES for v in rule(mod)]


def check_tree(root: Path) -> list[Violation]:
    """Every violation in ``root/src/codeanatomy``, sorted by location."""
    files = sorted((root / PACKAGE).rglob("*.py"))
    return sorted(v for path in files for v in check_file(path, root))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument(
        "--root", type=Path, default=REPO, help="repository root holding src/codeanatomy"
    )
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    if not (root / PACKAGE).is_dir():
        parser.error(f"{root / PACKAGE} is not a directory")
    violations = check_tree(root)
    for v in violations:
        print(v)
    if violations:
        print(f"{len(violations)} architecture drift violation(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
