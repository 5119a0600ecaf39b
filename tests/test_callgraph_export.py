"""``codeanatomy callgraph``: PyCG, JSON, DOT and GraphML exports of real builds.

The fixture repository holds one call of each simple kind; the expected graph is what
Python itself does when the code runs, written by hand. Each checked call site is marked
with a ``# site:NAME`` comment so its line and column are found in the source text.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from deltalake import DeltaTable

from codeanatomy.build import BuildOptions
from codeanatomy.pipeline import run
from tests.cli_run import cli

MAIN = '''"""Calls of every simple kind."""
import json


class A:
    def __init__(self, x):
        self.x = x
        self.helper()  # site:self

    def helper(self):
        return len([self.x])  # site:builtin


class B:
    pass


def func():
    return 1


def main():
    café = func()  # site:direct
    a = A(café)  # site:init
    B()  # site:class
    return json.dumps({"a": a.x})  # site:external


key = lambda v: func()  # site:lambda_body
key(2)  # site:lambda
main()  # site:module
'''

UTIL = """def shout(text):
    return text.upper()  # site:unresolved
"""

FILES = {"main.py": MAIN, "pkg/__init__.py": "", "pkg/util.py": UTIL}

EXPECTED_PYCG = {
    "<builtin>.len": [],
    "json.dumps": [],
    "main": ["main.<lambda1>", "main.main"],
    "main.<lambda1>": ["main.func"],
    "main.A.__init__": ["main.A.helper"],
    "main.A.helper": ["<builtin>.len"],
    "main.func": [],
    "main.main": ["json.dumps", "main.A.__init__", "main.func"],
    "pkg": [],
    "pkg.util": [],
    "pkg.util.shout": [],
}

# (caller, callee, callee kind, path, site marker, the call's text at the site)
SITES = (
    ("main.A.__init__", "main.A.helper", "FUNCTION", "main.py", "self", "self.helper("),
    ("main.A.helper", "<builtin>.len", "EXTERNAL", "main.py", "builtin", "len("),
    ("main.main", "main.func", "FUNCTION", "main.py", "direct", "func("),
    ("main.main", "main.A.__init__", "FUNCTION", "main.py", "init", "A("),
    ("main.main", "main.B", "CLASS", "main.py", "class", "B("),
    ("main.main", "json.dumps", "EXTERNAL", "main.py", "external", "json.dumps("),
    ("main.<lambda1>", "main.func", "FUNCTION", "main.py", "lambda_body", "func("),
    ("main", "main.<lambda1>", "FUNCTION", "main.py", "lambda", "key("),
    ("main", "main.main", "FUNCTION", "main.py", "module", "main("),
    ("pkg.util.shout", "text.upper", "UNRESOLVED", "pkg/util.py", "unresolved", "text.upper("),
)


def write_repo(root: Path) -> Path:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def site(path: str, marker: str, call_text: str) -> tuple[int, int]:
    """1-based line and 0-based character column of ``call_text`` on the marked line."""
    for number, line in enumerate(FILES[path].splitlines(), start=1):
        if line.endswith(f"# site:{marker}"):
            return number, line.index(call_text)
    raise AssertionError(f"no site {marker} in {path}")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_repo(tmp_path_factory.mktemp("callgraph_repo"))


@pytest.fixture(scope="module")
def out(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("callgraph_out")
    run(BuildOptions(repo=repo, out=target, jobs=2))
    return target


def export(out: Path, fmt: str) -> str:
    rc, text, err = cli("callgraph", str(out), "--format", fmt)
    assert rc == 0, err
    return text


@pytest.fixture(scope="module")
def graph_json(out: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(export(out, "json"))
    return document


def test_pycg_dict_is_exactly_the_python_call_graph(out):
    assert json.loads(export(out, "pycg")) == EXPECTED_PYCG


def test_pycg_is_the_default_format_with_sorted_keys(out):
    rc, text, err = cli("callgraph", str(out))
    assert rc == 0, err
    graph = json.loads(text)
    assert list(graph) == sorted(graph)
    assert all(callees == sorted(set(callees)) for callees in graph.values())


@pytest.mark.parametrize(("caller", "callee", "kind", "path", "marker", "call_text"), SITES)
def test_json_edge_has_the_call_site(graph_json, caller, callee, kind, path, marker, call_text):
    line, col = site(path, marker, call_text)
    matches = [
        e
        for e in graph_json["edges"]
        if (e["caller"], e["callee"], e["line"]) == (caller, callee, line)
    ]
    assert len(matches) == 1, matches
    edge = matches[0]
    assert (edge["callee_kind"], edge["path"], edge["col"]) == (kind, path, col)
    assert isinstance(edge["resolution_method"], str)
    assert edge["resolution_method"]
    if kind == "UNRESOLVED":
        assert edge["confidence"] == 0.0
    else:
        assert 0.0 < edge["confidence"] <= 1.0


def test_json_column_counts_characters_not_bytes(graph_json):
    line, col = site("main.py", "direct", "func(")
    text = MAIN.splitlines()[line - 1]
    assert len(text[:col].encode()) == col + 1  # 'é' is two bytes before the call
    edge = next(e for e in graph_json["edges"] if (e["line"], e["callee"]) == (line, "main.func"))
    assert edge["col"] == col


def test_json_has_one_edge_per_calls_edge_and_nodes_for_every_endpoint(out, graph_json):
    calls = DeltaTable(str(out / "cpg_edges")).to_pyarrow_table().to_pylist()
    calls_ids = {row["edge_id"] for row in calls if row["edge_kind"] == "CALLS"}
    assert {e["edge_id"] for e in graph_json["edges"]} == calls_ids
    nodes = {n["node_id"]: n for n in graph_json["nodes"]}
    for edge in graph_json["edges"]:
        assert nodes[edge["caller_node_id"]]["name"] == edge["caller"]
        assert nodes[edge["callee_node_id"]]["name"] == edge["callee"]
        assert nodes[edge["callee_node_id"]]["kind"] == edge["callee_kind"]
    keys = {n["name"] for n in graph_json["nodes"] if n["kind"] in {"FUNCTION", "MODULE"}}
    assert keys == {k for k in EXPECTED_PYCG if k.startswith(("main", "pkg"))}


def test_class_and_unresolved_targets_are_in_json_but_not_in_pycg(graph_json):
    kinds = {e["callee"]: e["callee_kind"] for e in graph_json["edges"]}
    assert kinds["main.B"] == "CLASS"
    assert kinds["text.upper"] == "UNRESOLVED"
    pycg_names = set(EXPECTED_PYCG) | {c for cs in EXPECTED_PYCG.values() for c in cs}
    assert "main.B" not in pycg_names
    assert "text.upper" not in pycg_names


def test_dot_has_every_call_pair_between_quoted_names(out, graph_json):
    text = export(out, "dot")
    assert text.startswith("digraph callgraph {\n")
    assert text.endswith("}\n")
    pairs = set(re.findall(r'^  "((?:[^"\\]|\\.)*)" -> "((?:[^"\\]|\\.)*)"', text, re.MULTILINE))
    assert pairs == {(e["caller"], e["callee"]) for e in graph_json["edges"]}
    declared = set(re.findall(r'^  "((?:[^"\\]|\\.)*)" \[', text, re.MULTILINE))
    assert declared == {n["name"] for n in graph_json["nodes"]}
    assert re.search(r'^  "pkg\.util\.shout" -> "text\.upper" \[style=dashed\];$', text, re.M)


def test_graphml_is_valid_and_carries_the_attributes(out, graph_json):
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    root = ET.fromstring(export(out, "graphml"))
    assert root.tag == "{http://graphml.graphdrawing.org/xmlns}graphml"
    keys = {k.get("id"): (k.get("for"), k.get("attr.name")) for k in root.findall("g:key", ns)}
    graph = root.find("g:graph", ns)
    assert graph is not None
    assert graph.get("edgedefault") == "directed"

    def data(element: ET.Element) -> dict[str, str | None]:
        return {keys[d.get("key", "")][1] or "": d.text for d in element.findall("g:data", ns)}

    nodes = {n.get("id"): data(n) for n in graph.findall("g:node", ns)}
    assert set(nodes) == {n["node_id"] for n in graph_json["nodes"]}
    by_id = {n["node_id"]: n for n in graph_json["nodes"]}
    for node_id, attrs in nodes.items():
        assert attrs["kind"] == by_id[node_id]["kind"]
        assert attrs["name"] == by_id[node_id]["name"]
        assert attrs.get("qualname") == by_id[node_id]["qualname"]
    edges = {
        e.get("id"): (e.get("source"), e.get("target"), data(e))
        for e in graph.findall("g:edge", ns)
    }
    assert len(edges) == len(graph_json["edges"])
    for edge in graph_json["edges"]:
        source, target, attrs = edges[edge["edge_id"]]
        assert (source, target) == (edge["caller_node_id"], edge["callee_node_id"])
        assert attrs["resolution_method"] == edge["resolution_method"]
        assert float(attrs["confidence"] or "nan") == edge["confidence"]
        assert (attrs["line"], attrs["col"]) == (str(edge["line"]), str(edge["col"]))


def test_repo_target_builds_into_a_temporary_directory_and_removes_it(repo, tmp_path):
    # A short TMPDIR of its own: the build's process pool puts a Unix socket in there.
    with tempfile.TemporaryDirectory(prefix="cg") as scratch:
        command = ["callgraph", str(repo), "--format", "pycg", "-o", str(tmp_path / "cg.json")]
        result = subprocess.run(
            [sys.executable, "-m", "codeanatomy.surfaces.cli", *command],
            capture_output=True,
            text=True,
            env={**os.environ, "TMPDIR": scratch},
            timeout=300,
            check=False,
        )
        left_behind = list(Path(scratch).iterdir())
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert json.loads((tmp_path / "cg.json").read_text(encoding="utf-8")) == EXPECTED_PYCG
    assert left_behind == []


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("missing", "does not exist"),
        ("empty_dir", "neither a build output (no cpg_edges table) nor a directory"),
        ("python_file", "neither a build output (no cpg_edges table) nor a directory"),
        ("evidence_only", "neither a build output (no cpg_edges table) nor a directory"),
        ("bad_format", "invalid choice: 'svg'"),
        ("unwritable_output", "cannot write"),
    ],
)
def test_misuse_is_one_line_and_exit_2(case, fragment, out, tmp_path):
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "python_file.py").write_text("x = 1\n")
    args = {
        "missing": [str(tmp_path / "missing")],
        "empty_dir": [str(tmp_path / "empty_dir")],
        "python_file": [str(tmp_path / "python_file.py")],
        "evidence_only": [str(out / "evidence")],
        "bad_format": [str(out), "--format", "svg"],
        "unwritable_output": [str(out), "-o", str(tmp_path / "no_dir" / "cg.json")],
    }[case]
    rc, stdout, stderr = cli("callgraph", *args)
    assert rc == 2
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert fragment in lines[0]
    assert "Traceback" not in stderr
