"""The SCIP layer end to end, with the real scip-python installed by scripts/install_tools."""

import json
import subprocess
from pathlib import Path
from typing import Any

import msgspec
import pytest
from deltalake import DeltaTable

from codeanatomy.build import BuildOptions, build
from codeanatomy.extract.scip.reader import IndexFormatError, read_index
from codeanatomy.extract.scip.run import ScipLimits, ScipProcess, make_mirror
from codeanatomy.extract.scip.tables import TABLES
from codeanatomy.extract.scip.tool import TOOLS_ENV, find_node, find_scip_python
from codeanatomy.ids import file_id_for
from codeanatomy.pipeline import run
from codeanatomy.plan.session import new_session
from codeanatomy.semantics.callgraph import RULES as CALLGRAPH_RULES
from codeanatomy.semantics.resolution import RULES
from codeanatomy.semantics.scip_mapping import scip_rules
from codeanatomy.surfaces.cli import main
from tests import scip_fixture as fx
from tests.delta_read import read_table, rows

MOD = fx.MOD.encode()


def _cpg(out: Path, name: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = DeltaTable(str(out / name)).to_pyarrow_table().to_pylist()
    return records


@pytest.fixture(scope="module")
def scip_build(tmp_path_factory):
    repo = fx.write_scip_repo(tmp_path_factory.mktemp("scip_repo"))
    out = tmp_path_factory.mktemp("scip_out")
    result = run(BuildOptions(repo=repo, out=out, layers="default,scip", jobs=2))
    return repo, out, result


def _occurrences(out: Path) -> list[dict[str, Any]]:
    paths = {d["file_id"]: d["path"] for d in rows(out, "scip_documents")}
    return [{**o, "path": paths[o["file_id"]]} for o in rows(out, "scip_occurrences")]


def test_documents_of_every_file_and_a_clean_run(scip_build):
    _, out, result = scip_build
    info = result.evidence.scip
    assert info is not None and info.status == "ok", info
    assert info.scip_python_version == "0.6.6" and info.exit_code == 0
    assert 50 < info.max_rss_mib < info.memory_mb  # node's own peak, not the parent's image
    assert {d["path"] for d in rows(out, "scip_documents")} == set(fx.FILES)
    assert {d["position_encoding"] for d in rows(out, "scip_documents")} == {"utf16"}
    assert "scip" in {layer.name for layer in result.evidence.layers}
    assert not [e for e in rows(out, "extract_errors") if e["layer"] == "scip"]


def test_utf16_ranges_become_exact_byte_spans(scip_build):
    repo, out, _ = scip_build
    occurrences = _occurrences(out)
    for occ in occurrences:
        data = (repo / occ["path"]).read_bytes()
        assert 0 <= occ["bstart"] <= occ["bend"] <= len(data)
    by_text: dict[tuple[str, bytes], list[dict[str, Any]]] = {}
    for occ in occurrences:
        text = (repo / occ["path"]).read_bytes()[occ["bstart"] : occ["bend"]]
        by_text.setdefault((occ["path"], text), []).append(occ)
    # the call of café on the emoji line: its bytes, and its native UTF-16 column
    emoji_line = 'z = "😀😀"; w = café(y)'
    call = MOD.index("café(y)".encode())
    cafe = [o for o in by_text[("pkg/mod.py", "café".encode())] if o["bstart"] == call]
    assert len(cafe) == 1
    assert (
        cafe[0]["start_col"] == len(emoji_line[: emoji_line.index("café")].encode("utf-16-le")) // 2
    )
    assert cafe[0]["start_col"] != len(emoji_line[: emoji_line.index("café")])  # emoji: 2 units
    assert [o["bstart"] for o in by_text[("pkg/mod.py", b"w")]] == [MOD.index(b"w = ")]
    classes = by_text[("pkg/mod.py", "Ärger".encode())]  # the class and Sub's base
    assert sorted(o["bstart"] for o in classes) == [
        MOD.index("Ärger:".encode()),
        MOD.index("Ärger):".encode()),
    ]
    # a BOM (pyright counts it as one character of line 1) and CRLF line ends
    assert len(by_text[("bom.py", "été".encode())]) == 2
    assert len(by_text[("crlf.py", "ü".encode())]) == 2
    assert ("latin1.py", b"print") in by_text


def test_scip_symbols_and_occurrence_edges_in_the_graph(scip_build):
    _, out, result = scip_build
    nodes = {n["node_id"]: n for n in _cpg(out, "cpg_nodes")}
    edges = _cpg(out, "cpg_edges")
    symbols = [n for n in nodes.values() if n["node_kind"] == "SCIP_SYMBOL"]
    cafe = [s for s in symbols if s["qualname"] == "pkg.mod.café"]
    assert len(cafe) == 1 and cafe[0]["name"] == "café" and cafe[0]["file_id"] is None
    definition = next(
        n for n in nodes.values() if n["node_kind"] == "FUNCTION" and n["name"] == "café"
    )
    occurrence = [
        e
        for e in edges
        if e["edge_kind"] == "SCIP_OCCURRENCE"
        and e["src_node_id"] == definition["node_id"]
        and e["dst_node_id"] == cafe[0]["node_id"]
    ]
    assert len(occurrence) == 1
    props = {
        (p["prop_key"]): p
        for p in _cpg(out, "cpg_props")
        if p["entity_id"] == occurrence[0]["edge_id"]
    }
    assert props["roles"]["value_int"] == 1 and props["is_definition"]["value_bool"] is True
    scip_edges = [e for e in edges if e["origin"] == "scip"]
    assert all(e["src_node_id"] in nodes and e["dst_node_id"] in nodes for e in scip_edges)
    assert len({e["edge_id"] for e in edges}) == len(edges)
    kinds = {nodes[e["src_node_id"]]["node_kind"] for e in scip_edges}
    assert {"NAME", "ATTRIBUTE", "FUNCTION", "CLASS", "PARAMETER", "IMPORT", "MODULE"} <= kinds
    # `except ... as err` binds at the handler (the name has no node of its own)
    main_py = fx.MAIN.encode()
    handlers = {
        main_py[nodes[e["src_node_id"]]["bstart"] : nodes[e["src_node_id"]]["bend"]]
        for e in scip_edges
        if e["edge_kind"] == "SCIP_OCCURRENCE" and nodes[e["src_node_id"]]["node_kind"] == "SYNTAX"
    }
    assert handlers == {b"except (ValueError, KeyError) as err:\n    print(err)"}
    assert result.graph.nodes_by_kind["SCIP_SYMBOL"] == len(symbols)


def test_refers_to_only_scip_resolves(scip_build):
    _, out, _ = scip_build
    nodes = {n["node_id"]: n for n in _cpg(out, "cpg_nodes")}
    filled = [
        e
        for e in _cpg(out, "cpg_edges")
        if e["edge_kind"] == "REFERS_TO" and e["resolution_method"] == "scip"
    ]
    # `self.a` in Ärger.m: no rule of ours follows a class attribute read through self
    assert [
        (nodes[e["src_node_id"]]["node_kind"], nodes[e["src_node_id"]]["name"]) for e in filled
    ] == [("ATTRIBUTE", "a")]
    target = nodes[filled[0]["dst_node_id"]]
    assert (target["node_kind"], target["name"], target["line_start"]) == ("NAME", "a", 11)
    assert filled[0]["confidence"] == pytest.approx(0.8)


def test_agreement_is_recorded_in_the_run_manifest(scip_build):
    _, out, result = scip_build
    manifest = json.loads((out / "artifacts" / "run_manifest.json").read_text())
    agreement = manifest["scip"]["agreement"]
    assert agreement == msgspec.to_builtins(result.evidence.scip.agreement)
    assert agreement["uses_both_resolved"] == agreement["agree"] + agreement["disagree"] > 0
    assert agreement["in_repo_both"] > 0
    assert agreement["in_repo_agree"] == agreement["in_repo_both"]
    assert agreement["disagree"] == 0 and agreement["agreement_rate"] == 1.0
    assert agreement["attributes_both"] > 0  # counted apart from names
    assert agreement["scip_only"] == 1  # the `self.a` above


def test_ref_targets_view_points_at_definitions(scip_build):
    repo, out, _ = scip_build
    ctx = new_session()
    for spec in TABLES:
        ctx.register_dataset(
            spec.name, DeltaTable(str(out / "evidence" / spec.name)).to_pyarrow_dataset()
        )
    for name in (
        "ast_names",
        "ast_attributes",
        "ast_defs",
        "ast_params",
        "ast_imports",
        "ast_nodes",
        "ast_assignments",
    ):
        ctx.register_dataset(name, DeltaTable(str(out / "evidence" / name)).to_pyarrow_dataset())
    for rule in scip_rules((*RULES, *CALLGRAPH_RULES)):
        if rule.name in ("scip_occ_nodes", "scip_definitions", "scip_ref_targets"):
            ctx.register_view(rule.name, ctx.sql(rule.sql))
    main_py = (repo / "main.py").read_bytes()
    call = main_py.index("café(2)".encode())
    found = ctx.sql(
        f"SELECT def_file_id, def_bstart, def_bend FROM scip_ref_targets "
        f"WHERE file_id = '{file_id_for('main.py')}' AND bstart = {call}"
    ).to_pylist()
    start = MOD.index("café(x)".encode())
    assert found == [
        {"def_file_id": file_id_for("pkg/mod.py"), "def_bstart": start, "def_bend": start + 5}
    ]


def _small_repo(root: Path) -> Path:
    (root / "a.py").write_bytes(b"def f():\n    return 1\n\nf()\n")
    return root


def _scip_errors(out: Path) -> list[tuple[str, str, str]]:
    return [
        (e["path"], e["error_type"], e["file_id"])
        for e in rows(out, "extract_errors")
        if e["layer"] == "scip"
    ]


def test_missing_scip_python_is_a_diagnostic_and_the_build_goes_on(tmp_path, monkeypatch):
    monkeypatch.setenv(TOOLS_ENV, str(tmp_path / "no-tools"))
    (tmp_path / "repo").mkdir()
    repo, out = _small_repo(tmp_path / "repo"), tmp_path / "out"
    result = run(BuildOptions(repo=repo, out=out, layers="default,scip", jobs=1))
    info = result.evidence.scip
    assert info is not None and info.status == "missing_tool" and info.agreement is None
    assert "scip-python" in info.message
    assert _scip_errors(out) == [(".", "ScipMissingTool", file_id_for("."))]
    for spec in TABLES:
        table = read_table(out, spec.name)
        assert table.num_rows == 0 and table.schema.names == spec.schema.names
    diagnostics = [n for n in _cpg(out, "cpg_nodes") if n["node_kind"] == "DIAGNOSTIC"]
    assert [(d["name"], d["file_id"]) for d in diagnostics] == [("ScipMissingTool", None)]
    assert result.graph.nodes_by_kind["FUNCTION"] == 1  # the other layers are all there


@pytest.mark.parametrize(
    ("limits", "status", "error_type"),
    [
        (ScipLimits(timeout_s=0.2), "timeout", "ScipTimeout"),
        (ScipLimits(memory_mb=16), "out_of_memory", "ScipOutOfMemory"),
    ],
)
def test_time_limit_and_memory_cap(tmp_path, limits, status, error_type):
    repo = fx.write_scip_repo(tmp_path / "repo", git=False)
    out = tmp_path / "out"
    manifest = build(
        BuildOptions(
            repo=repo,
            out=out,
            layers="default,scip",
            jobs=1,
            scip_timeout_s=limits.timeout_s,
            scip_memory_mb=limits.memory_mb,
        )
    )
    assert manifest.scip is not None and manifest.scip.status == status
    assert _scip_errors(out) == [(".", error_type, file_id_for("."))]
    assert read_table(out, "scip_occurrences").num_rows == 0
    assert read_table(out, "ast_nodes").num_rows > 0
    assert (out / "artifacts" / "scip-python.log").exists()


def test_an_index_without_documents_is_an_error_not_success(tmp_path):
    # scip-python skips hidden directories silently and exits 0
    (tmp_path / "repo" / ".hidden").mkdir(parents=True)
    (tmp_path / "repo" / ".hidden" / "x.py").write_bytes(b"x = 1\n")
    out = tmp_path / "out"
    manifest = build(BuildOptions(repo=tmp_path / "repo", out=out, layers="default,scip", jobs=1))
    assert manifest.files == 1
    assert manifest.scip is not None and manifest.scip.status == "empty_index"
    assert manifest.scip.exit_code == 0
    assert _scip_errors(out) == [(".", "ScipEmptyIndex", file_id_for("."))]


def test_without_git_the_evidence_is_the_same_and_deterministic(tmp_path, scip_build):
    _, git_out, _ = scip_build
    repo = fx.write_scip_repo(tmp_path / "repo", git=False)
    manifest = build(BuildOptions(repo=repo, out=tmp_path / "out", layers="default,scip", jobs=1))
    assert manifest.scip is not None and manifest.scip.status == "ok"
    assert manifest.scip.documents == len(fx.FILES)
    for spec in TABLES:
        plain = sorted(map(json.dumps, rows(tmp_path / "out", spec.name)))
        assert plain == sorted(map(json.dumps, rows(git_out, spec.name))), spec.name


def test_reader_streams_a_real_index_and_rejects_a_truncated_one(tmp_path):
    repo = fx.write_scip_repo(tmp_path / "repo", git=False)
    mirror = tmp_path / "mirror"
    make_mirror(repo, sorted(fx.FILES), mirror)
    index = tmp_path / "index.scip"
    process = ScipProcess(
        find_node(), find_scip_python(), mirror, index, tmp_path / "log", ScipLimits()
    )
    assert process.wait().status == "ok"
    entries = list(read_index(index))
    assert entries[0].kind == "metadata"
    assert entries[0].message.tool_info.name == "scip-python"
    documents = [e.message.relative_path for e in entries if e.kind == "document"]
    assert sorted(documents) == sorted(fx.FILES)
    data = index.read_bytes()
    (tmp_path / "cut.scip").write_bytes(data[: len(data) - 7])
    with pytest.raises(IndexFormatError):
        list(read_index(tmp_path / "cut.scip"))


def test_doctor_reports_versions(capsys, tmp_path, monkeypatch):
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    tools = {t["name"]: t for t in report["tools"]}
    package = Path(__file__).resolve().parents[1] / "tools" / "package.json"
    pinned = json.loads(package.read_text())["dependencies"]
    assert tools["scip-python"]["version"] == pinned["@sourcegraph/scip-python"]
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True)
    assert tools["node"]["version"] == node.stdout.strip().removeprefix("v")
    assert tools["npm"]["ok"]
    monkeypatch.setenv(TOOLS_ENV, str(tmp_path))
    assert main(["doctor"]) == 1
    assert "missing  scip-python" in capsys.readouterr().out


def test_bad_scip_limits_are_usage_errors(tmp_path, capsys):
    code = main(["build", str(tmp_path), "--out", str(tmp_path / "o"), "--scip-timeout", "0"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--scip-timeout" in err


def test_every_scip_row_belongs_to_a_scanned_file(scip_build):
    _, out, _ = scip_build
    file_ids = {r["file_id"] for r in rows(out, "repo_files")}
    for spec in TABLES:
        table = read_table(out, spec.name)
        assert table.num_rows > 0 or spec.name == "scip_diagnostics", spec.name
        assert set(table.column("file_id").to_pylist()) <= file_ids, spec.name


def test_relationships_of_a_subclass(scip_build):
    _, out, _ = scip_build
    found = {
        (
            r["symbol"].rsplit(" ", 1)[1],
            r["target_symbol"].rsplit(" ", 1)[1],
            r["is_implementation"],
        )
        for r in rows(out, "scip_relationships")
    }
    assert found == {
        ("`pkg.mod`/Sub#", "`pkg.mod`/`Ärger`#", True),
        ("`pkg.mod`/Sub#m().", "`pkg.mod`/`Ärger`#m().", True),
    }
