"""The semantic compiler and view builders on the fixture build: exact facts, integrity."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from datafusion import SessionContext, col
from deltalake import DeltaTable

from codeanatomy.extract.catalog import all_tables
from codeanatomy.ids import file_id_for, stable_id
from codeanatomy.plan.builders import view_definitions
from codeanatomy.plan.exprs import stable_id_expr
from codeanatomy.semantics.compiler import CompileError, compile_program
from codeanatomy.semantics.mapping import ENTITIES, RELATIONSHIPS
from codeanatomy.semantics.specs import Endpoint, EntitySpec, JoinSpec, RelationshipSpec
from codeanatomy.semantics.types import AnnotatedSchema, JoinInferenceError, infer_join_keys
from tests import fixture_repos as fx

EVIDENCE = {spec.name: spec.schema for spec in all_tables()}


def _graph(out: Path) -> dict[str, list[dict[str, Any]]]:
    ctx = SessionContext()
    for name in EVIDENCE:
        ctx.register_dataset(name, DeltaTable(str(out / "evidence" / name)).to_pyarrow_dataset())
    manifest = compile_program(ENTITIES, RELATIONSHIPS, EVIDENCE, out)
    for view in view_definitions(manifest):
        ctx.register_view(view.name, view.build(ctx))
    return {name: ctx.table(name).to_pylist() for name in ("cpg_nodes", "cpg_edges", "cpg_props")}


@pytest.fixture(scope="module")
def graph(messy_build) -> dict[str, list[dict[str, Any]]]:
    out, _ = messy_build
    return _graph(out)


def test_ids_are_unique_and_every_edge_endpoint_is_a_node(graph):
    ids = [n["node_id"] for n in graph["cpg_nodes"]]
    assert len(ids) == len(set(ids))
    nodes = set(ids)
    for edge in graph["cpg_edges"]:
        assert edge["src_node_id"] in nodes and edge["dst_node_id"] in nodes, edge
    edge_ids = [e["edge_id"] for e in graph["cpg_edges"]]
    assert len(edge_ids) == len(set(edge_ids))
    assert {p["entity_id"] for p in graph["cpg_props"] if p["entity_kind"] == "node"} <= nodes


def test_node_ids_computed_in_the_plan_equal_the_python_function(graph):
    core = file_id_for("pkg/core.py")
    modules = {
        n["qualname"]: n["node_id"] for n in graph["cpg_nodes"] if n["node_kind"] == "MODULE"
    }
    assert modules["pkg.core"] == stable_id("ast", core, 0)
    files = {n["path"]: n["node_id"] for n in graph["cpg_nodes"] if n["node_kind"] == "FILE"}
    assert files["pkg/core.py"] == core


def test_stable_id_expr_matches_python_on_real_rows():
    ctx = SessionContext()
    rows = pa.table({"p": ["pkg/mod.py", "é/ü.py", ""], "i": [12, -3, 0]})
    ctx.register_record_batches("t", [rows.to_batches()])
    got = ctx.table("t").select(stable_id_expr("ast", col("p"), col("i")).alias("id")).to_pylist()
    assert [g["id"] for g in got] == [
        stable_id("ast", p, i)
        for p, i in zip(rows["p"].to_pylist(), rows["i"].to_pylist(), strict=True)
    ]


def test_definitions_have_dotted_qualnames_and_nesting(graph):
    nodes = {n["node_id"]: n for n in graph["cpg_nodes"]}
    quals = {n["qualname"] for n in nodes.values() if n["node_kind"] in ("CLASS", "FUNCTION")}
    # from pkg/core.py: module pkg.core, nested functions dotted without <locals>
    assert {
        "pkg.core.Derived.run",
        "pkg.core.make_adder.add",
        "pkg.core.trace.wrapper",
        "pkg.core.Base",
        "pkg.sub.helpers.Widget.grow",
    } <= quals
    contains = {
        (nodes[e["src_node_id"]]["qualname"], nodes[e["dst_node_id"]]["qualname"])
        for e in graph["cpg_edges"]
        if e["edge_kind"] == "CONTAINS"
    }
    assert ("pkg.core.make_adder", "pkg.core.make_adder.add") in contains
    assert ("pkg.core", "pkg.core.Base") in contains
    assert (None, "pkg.core") in contains  # FILE (no qualname) -> MODULE


def test_parameters_scopes_and_receivers(graph, messy_repo):
    nodes = {n["node_id"]: n for n in graph["cpg_nodes"]}
    params = sorted(
        nodes[e["dst_node_id"]]["name"]
        for e in graph["cpg_edges"]
        if e["edge_kind"] == "HAS_PARAMETER"
        and nodes[e["src_node_id"]]["qualname"] == "pkg.core.Base.helper"
    )
    assert params == sorted(["x", "y", "rest", "flag", "extra"])
    scope_of = {
        nodes[e["dst_node_id"]]["qualname"]
        for e in graph["cpg_edges"]
        if e["edge_kind"] == "SCOPE_OF"
    }
    assert {"pkg.core.make_adder.add", "pkg.core", "pkg.core.Derived"} <= scope_of
    data = (messy_repo / "pkg/core.py").read_bytes()
    receivers = {
        data[nodes[e["dst_node_id"]]["bstart"] : nodes[e["dst_node_id"]]["bend"]].decode()
        for e in graph["cpg_edges"]
        if e["edge_kind"] == "RECEIVER" and nodes[e["src_node_id"]]["path"] == "pkg/core.py"
    }
    # method calls in pkg/core.py: functools.wraps, self.helper, results.append, held.wait,
    # osp.basename, squares.items
    assert receivers == {"functools", "self", "results", "held", "osp", "squares"}


def test_broken_files_keep_modules_and_definitions_from_tree_sitter(graph):
    broken = [n for n in graph["cpg_nodes"] if n["path"] == "broken_syntax.py"]
    kinds = Counter(n["node_kind"] for n in broken)
    assert kinds["FILE"] == 1 and kinds["MODULE"] == 1 and kinds["SYNTAX_ERROR"] >= 1
    assert {"broken_syntax.fine", "broken_syntax.after", "broken_syntax.Broken"} <= {
        n["qualname"] for n in broken
    }
    diagnostics = [n for n in broken if n["node_kind"] == "DIAGNOSTIC"]
    assert {d["name"] for d in diagnostics} == {"SyntaxError"}


def test_spans_are_exact_source_text(graph, messy_repo):
    for node in graph["cpg_nodes"]:
        if node["node_kind"] in ("NAME", "CALL") and node["path"] == "latin1_cookie.py":
            raw = (messy_repo / node["path"]).read_bytes()[node["bstart"] : node["bend"]]
            text = raw.decode("latin-1")
            assert text.startswith(node["name"]), (text, node)


def test_props_are_typed(graph):
    by_key = {(p["prop_key"], p["value_type"]) for p in graph["cpg_props"]}
    assert ("ctx", "string") in by_key and ("index", "int") in by_key
    assert ("is_local", "bool") in by_key


def test_compile_once_is_deterministic(tmp_path):
    first = compile_program(ENTITIES, RELATIONSHIPS, EVIDENCE, tmp_path / "a")
    second = compile_program(ENTITIES, RELATIONSHIPS, EVIDENCE, tmp_path / "b")
    assert first.fingerprint == second.fingerprint
    assert first.validation == []
    changed = compile_program(ENTITIES[:-1], RELATIONSHIPS, EVIDENCE, tmp_path / "a")
    assert changed.fingerprint != first.fingerprint


def test_join_keys_are_inferred_from_semantic_types():
    schemas = {name: AnnotatedSchema.of(name, schema) for name, schema in EVIDENCE.items()}
    keys, confidence = infer_join_keys(schemas["ast_names"], schemas["ast_defs"], "ref_to_node")
    assert keys == (("file_id", "file_id"), ("scope_def_idx", "node_idx"))
    assert confidence.score == 1.0
    keys, confidence = infer_join_keys(
        schemas["ast_calls"], schemas["ast_attributes"], "ref_to_node"
    )
    assert keys == (("file_id", "file_id"), ("func_idx", "node_idx"))
    assert confidence.fallback_reason is not None  # the reference may point at any ast node
    with pytest.raises(JoinInferenceError):  # several candidate references: ambiguous
        infer_join_keys(schemas["ast_assignments"], schemas["ast_nodes"], "ref_to_node")


def test_explicit_keys_need_a_recorded_override(tmp_path):
    rule = RelationshipSpec(
        "RECEIVER",
        "ast_calls",
        Endpoint("ast", ("node_idx",)),
        Endpoint("ast", ("value_idx",), side="right"),
        "x",
        join=JoinSpec(
            "ast_attributes", "ref_to_node", left_on=("func_idx",), right_on=("node_idx",)
        ),
    )
    with pytest.raises(CompileError, match="override_reason"):
        compile_program(ENTITIES, (rule,), EVIDENCE, tmp_path)


def test_unknown_columns_fail_compilation(tmp_path):
    bad = EntitySpec("CALL", "ast_calls", "x", name="no_such_column")
    with pytest.raises(CompileError, match="no_such_column"):
        compile_program((bad,), (), EVIDENCE, tmp_path)


def test_lines_and_character_columns_derive_exactly_from_spans(graph, messy_repo):
    from codeanatomy.scan.source import SourceFile

    sources: dict[str, SourceFile] = {}
    checked = 0
    for node in graph["cpg_nodes"]:
        if node["bstart"] is None or node["path"] is None:
            assert node["line_start"] is None
            continue
        path = node["path"]
        if path not in sources:
            sources[path] = SourceFile(path, (messy_repo / path).read_bytes())
        source = sources[path]
        if path in fx.BAD_FILES:  # no characters to count in undecodable bytes
            assert node["line_start"] is not None
            continue
        assert (node["line_start"], node["col_start"]) == source.char_col_of_offset(node["bstart"])
        if not source.line_starts:  # an empty file
            assert (node["line_end"], node["col_end"]) == (1, 0)
        else:
            end_line = source.line_of_offset(max(node["bend"] - 1, node["bstart"]))
            base = source.line_bases[end_line]
            codec = source.codec
            width = len(source.data[base : node["bend"]].decode(codec))
            assert (node["line_end"], node["col_end"]) == (end_line, width), node
        checked += 1
    assert checked > 500
    by_path = {(n["path"], n["name"]): n for n in graph["cpg_nodes"] if n["node_kind"] == "NAME"}
    # bom_utf8.py line 3: "    return π * 2": π is at character column 11 (not byte 11 + BOM)
    assert (
        by_path[("bom_utf8.py", "π")]["line_start"],
        by_path[("bom_utf8.py", "π")]["col_start"],
    ) == (3, 11)
