"""The drift checker run as CI runs it, on small fake source trees and on the real one."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "check_drift.py"

# What the real tree violates today, awaiting an owner's fix or allow comment. Expected to
# shrink to empty; a new entry here means new drift.
REAL_REPO_VIOLATIONS: list[tuple[str, int, str]] = []


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, code in files.items():
        path = root / "src" / "codeanatomy" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(code).lstrip("\n"))
    return root


def _run(*args: str) -> tuple[int, list[tuple[str, int, str]], list[str]]:
    """Exit status, (path, line, rule) of each violation, and the raw lines."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )
    lines = proc.stdout.splitlines()
    found = []
    for line in lines:
        location, rest = line.split(": ", 1)
        path, lineno = location.rsplit(":", 1)
        found.append((path, int(lineno), rest.split(" ", 1)[0]))
    return proc.returncode, found, lines


def _check(root: Path) -> tuple[int, list[tuple[str, int, str]], list[str]]:
    return _run("--root", str(root))


def test_clean_tree_exits_zero(tmp_path):
    _tree(tmp_path, {"__init__.py": '"""pkg"""\n', "plan/cost.py": "X = (1, 2)\n"})
    assert _check(tmp_path) == (0, [], [])


def test_d1_affix_and_regex_calls_in_policy_code(tmp_path):
    _tree(
        tmp_path,
        {
            "plan/policy.py": """
                import re
                import fnmatch as fm
                from re import fullmatch

                def cache(name: str) -> bool:
                    return name.startswith("cpg_")

                def out(name: str) -> bool:
                    return name.endswith(("_nodes", "_edges"))

                def a(name: str) -> object:
                    return re.search("tmp", name)

                def b(name: str) -> object:
                    return fullmatch("x.*", name)

                def c(name: str) -> object:
                    return fm.fnmatch(name, "cpg_*")
            """,
            # the same code outside plan/ and execute/ is not policy code
            "extract/layer.py": """
                import re

                def f(name: str) -> object:
                    return name.startswith("x") or re.match("y", name)
            """,
        },
    )
    rc, found, lines = _check(tmp_path)
    assert rc == 1
    path = "src/codeanatomy/plan/policy.py"
    assert found == [
        (path, 6, "D1"),
        (path, 9, "D1"),
        (path, 12, "D1"),
        (path, 15, "D1"),
        (path, 18, "D1"),
    ]
    assert "`.startswith(...)`" in lines[0]
    assert "`re.search(...)`" in lines[2]
    assert "`re.fullmatch(...)`" in lines[3]
    assert "`fnmatch.fnmatch(...)`" in lines[4]


def test_d1_allow_comment_needs_a_reason(tmp_path):
    _tree(
        tmp_path,
        {
            "execute/write.py": """
                def drop(keys: list[str]) -> list[str]:
                    return [k for k in keys if k.startswith("c.")]  # drift: allow D1 config keys

                def bare(key: str) -> bool:
                    return key.endswith(".x")  # drift: allow D1

                def wrong_rule(key: str) -> bool:
                    return key.endswith(".x")  # drift: allow D4 because

                def stale() -> int:
                    return 1  # drift: allow D1 nothing here any more
            """
        },
    )
    rc, found, lines = _check(tmp_path)
    path = "src/codeanatomy/execute/write.py"
    assert rc == 1
    # line 2 is allowed with a reason; the bare allow still fails; an allow for another
    # rule does not silence D1 and is itself reported; a stale allow is reported
    assert found == [(path, 5, "D1"), (path, 8, "D1"), (path, 8, "D1"), (path, 11, "D1")]
    assert "needs a reason" in lines[0]
    assert "nothing to allow" in lines[3]


def test_d1_allow_comment_with_reason_is_clean(tmp_path):
    _tree(
        tmp_path,
        {
            "plan/stats.py": """
                import re

                _ROWS = re.compile(r"Rows=(\\d+)")  # drift: allow D1 parses EXPLAIN statistics text
            """
        },
    )
    assert _check(tmp_path) == (0, [], [])


def test_d2_explicit_join_keys_need_an_override_reason(tmp_path):
    _tree(
        tmp_path,
        {
            "semantics/specs.py": """
                FILE_KEYS = ("file_id",)

                def relationship(**kw: object) -> dict[str, object]:
                    return kw

                R1 = relationship(left_on=("file_id", "bstart"), right_on=("file_id", "bstart"))
                R2 = relationship(name="defs", keys=FILE_KEYS)
                R3 = relationship(name="refs", join_keys="file_id", override_reason="  ")
                R4 = relationship(
                    name="scopes",
                    left_on=("file_id",),
                    right_on=("file_id",),
                    override_reason="symtable rows carry no span; file is the only shared key",
                )
                R5 = relationship(name="uses")
                R6 = relationship(name="none", left_on=None)
            """,
            "semantics/compiler.py": """
                def join(left, right, spec):
                    lk = tuple(spec.left_keys)
                    return left.join(right, left_on=lk, right_on=spec.right_keys, how="inner")
            """,
        },
    )
    rc, found, lines = _check(tmp_path)
    path = "src/codeanatomy/semantics/specs.py"
    assert rc == 1
    assert found == [(path, 6, "D2"), (path, 7, "D2"), (path, 8, "D2")]
    assert "(left_on=, right_on=)" in lines[0]


def test_d3_compile_program_called_only_from_pipeline(tmp_path):
    call = """
        from codeanatomy.semantics.compiler import compile_program
        from codeanatomy.semantics.compiler import compile_program as compile_again
        from codeanatomy.semantics import compiler

        def run(specs):
            return compile_program(specs), compile_again(specs), compiler.compile_program(specs)
    """
    _tree(
        tmp_path,
        {
            "pipeline.py": call,
            "surfaces/query.py": call,
            "semantics/compiler.py": "def compile_program(specs):\n    return specs\n",
        },
    )
    rc, found, lines = _check(tmp_path)
    path = "src/codeanatomy/surfaces/query.py"
    assert rc == 1
    assert found == [(path, 6, "D3")] * 3
    assert all("pipeline.py" in line for line in lines)


def test_d4_module_level_mutable_state(tmp_path):
    _tree(
        tmp_path,
        {
            "extract/registry.py": """
                from collections import defaultdict

                _extractors = {}
                cache: dict[str, int] = dict()
                by_kind = defaultdict(list)
                seen = {n for n in range(3)}
                REGISTRY = {}
                NAMES = []

                def register(name, fn):
                    REGISTRY[name] = fn
                    NAMES.append(name)

                def reset():
                    global _extractors
                    _extractors = {}
            """
        },
    )
    rc, found, lines = _check(tmp_path)
    path = "src/codeanatomy/extract/registry.py"
    assert rc == 1
    assert found == [
        (path, 3, "D4"),
        (path, 4, "D4"),
        (path, 5, "D4"),
        (path, 6, "D4"),
        (path, 11, "D4"),
        (path, 12, "D4"),
        (path, 15, "D4"),
    ]
    assert "`REGISTRY` mutated by item assignment" in lines[4]
    assert "`NAMES` mutated by .append(...)" in lines[5]
    assert "global _extractors" in lines[6]


def test_d4_immutable_module_state_is_clean(tmp_path):
    _tree(
        tmp_path,
        {
            "extract/kinds.py": """
                from types import MappingProxyType

                __all__ = ["KINDS", "lookup"]
                KINDS = MappingProxyType({"def": 1, "class": 2})
                ORDER = ("def", "class")
                SEEN = frozenset({"def"})
                DEFAULTS = {"jobs": 1}
                _limit = 500

                def lookup(kind: str) -> int:
                    local = {}
                    local[kind] = KINDS.get(kind, 0) + DEFAULTS["jobs"]
                    return local[kind]
            """
        },
    )
    assert _check(tmp_path) == (0, [], [])


def test_d5_hand_copied_schemas(tmp_path):
    schema_code = """
        import pyarrow as pa

        NODES = pa.schema([pa.field("node_id", pa.string()), pa.field("kind", pa.string())])
        SPAN = pa.struct([("bstart", pa.int64()), ("bend", pa.int64())])
    """
    _tree(
        tmp_path,
        {
            "extract/schema.py": schema_code,
            "semantics/cpg_schema.py": schema_code,
            "semantics/views.py": schema_code,
            "plan/write.py": """
                import pyarrow
                from pyarrow import schema

                FIELDS = [pyarrow.field("a", pyarrow.int64())]
                EDGES = schema(fields=(pyarrow.field("src", pyarrow.string()),))

                def derived(rows):
                    return pyarrow.schema([f for f in rows.fields]), pyarrow.schema(rows.fields)
            """,
        },
    )
    rc, found, _ = _check(tmp_path)
    assert rc == 1
    assert found == [
        ("src/codeanatomy/plan/write.py", 4, "D5"),
        ("src/codeanatomy/plan/write.py", 5, "D5"),
        ("src/codeanatomy/semantics/views.py", 3, "D5"),
        ("src/codeanatomy/semantics/views.py", 4, "D5"),
    ]


def test_unparsable_file_is_reported(tmp_path):
    _tree(tmp_path, {"broken.py": "def f(:\n"})
    rc, found, _ = _check(tmp_path)
    assert (rc, found) == (1, [("src/codeanatomy/broken.py", 1, "PARSE")])


def test_real_repository():
    rc, found, lines = _run()
    assert found == REAL_REPO_VIOLATIONS, "\n".join(lines)
    assert rc == (1 if REAL_REPO_VIOLATIONS else 0)
