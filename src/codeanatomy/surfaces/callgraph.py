"""Call-graph exports (the ``callgraph`` command): PyCG JSON, JSON, DOT and GraphML.

The call graph is derived, never stored: each ``CALLS`` edge of ``cpg_edges`` goes from a
call site to a target node, and its ``caller`` prop in ``cpg_props`` names the FUNCTION or
MODULE the call counts for. One DataFusion query over the read-only Delta tables joins
the two with the call site's node for its line and column.

Every node gets one *export name*, shared by all formats so they agree with each other:
FUNCTION, MODULE and CLASS nodes use their qualname; EXTERNAL nodes their dotted path,
with ``builtins.X`` written PyCG's way as ``<builtin>.X``; UNRESOLVED nodes the callee
expression text. The PyCG format keeps only what PyCG can express (CLASS and UNRESOLVED
targets and calls of builtin container methods are dropped); the JSON, DOT and GraphML
formats keep every edge, so "could not tell" stays visible.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, get_args
from xml.etree import ElementTree as ET

import msgspec

from codeanatomy.build import BuildOptions, UsageError

CallgraphFormat = Literal["pycg", "json", "dot", "graphml"]
FORMATS: tuple[str, ...] = get_args(CallgraphFormat)

GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"
BUILTIN_PREFIX = "builtins."
PYCG_BUILTIN_PREFIX = "<builtin>."
# Node kinds that are always keys of the PyCG dict, called or not.
KEY_KINDS = ("FUNCTION", "MODULE")
# Targets PyCG's format has no name for: a class without ``__init__``, an unknown callee.
NOT_IN_PYCG = frozenset({"CLASS", "UNRESOLVED"})
# Calls PyCG does not write: methods of builtin containers (``builtins.dict.items``), which
# PyCG cannot see (it has no types for literals), so its graphs never list them.
NOT_IN_PYCG_METHODS = frozenset({"builtin_method"})

# Characters XML 1.0 cannot hold at all, not even escaped (callee text is raw source).
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_CALLS_SQL = """
SELECT e.edge_id, e.src_node_id, e.dst_node_id, e.path, e.resolution_method,
       e.confidence, p.value_string AS caller_node_id
FROM cpg_edges e
JOIN cpg_props p ON p.entity_id = e.edge_id
WHERE e.edge_kind = 'CALLS' AND p.entity_kind = 'edge' AND p.prop_key = 'caller'
"""

_EDGES_SQL = """
SELECT c.edge_id, c.caller_node_id, c.dst_node_id AS callee_node_id, c.path,
       s.line_start AS line, s.col_start AS col, c.resolution_method, c.confidence
FROM calls c
JOIN cpg_nodes s ON s.node_id = c.src_node_id
"""

_NODES_SQL = f"""
SELECT node_id, node_kind AS kind, name, qualname, path, line_start AS line,
       col_start AS col
FROM cpg_nodes
WHERE node_kind IN {KEY_KINDS!r}
   OR node_id IN (SELECT dst_node_id FROM calls)
   OR node_id IN (SELECT caller_node_id FROM calls)
"""


class CallNode(msgspec.Struct, frozen=True, kw_only=True):
    """A caller or callee: its export name plus where it is defined (null when external)."""

    node_id: str
    kind: str
    name: str  # the export name (see the module docstring)
    qualname: str | None
    path: str | None
    line: int | None
    col: int | None


class CallEdge(msgspec.Struct, frozen=True, kw_only=True):
    """One resolved (or explicitly unresolved) target of one call site."""

    caller: str
    callee: str
    caller_node_id: str
    callee_node_id: str
    callee_kind: str
    path: str | None
    line: int  # of the call site, 1-based
    col: int  # of the call site, 0-based, in characters
    resolution_method: str | None
    confidence: float
    edge_id: str


class CallGraph(msgspec.Struct, frozen=True, kw_only=True):
    """The ``--format json`` document: every call edge and every node they touch."""

    edges: list[CallEdge]
    nodes: list[CallNode]


def is_graph_output(path: Path) -> bool:
    """A build output that holds the CPG (evidence alone has no call graph)."""
    return (path / "cpg_edges" / "_delta_log").is_dir()


@contextmanager
def graph_for(target: Path) -> Iterator[Path]:
    """Yield a build output for ``target``: itself if built, else a temporary build.

    Raises :class:`UsageError` when ``target`` is neither a build output nor a directory
    with Python files; the temporary build is removed on exit.
    """
    if not target.exists():
        raise UsageError(f"{target} does not exist")
    if is_graph_output(target):
        yield target
        return
    from codeanatomy.scan.discover import discover

    if not target.is_dir() or not discover(target).paths:
        raise UsageError(
            f"{target} is neither a build output (no cpg_edges table) nor a directory "
            "with Python files"
        )
    from codeanatomy.pipeline import run

    with tempfile.TemporaryDirectory(prefix="codeanatomy-callgraph-") as tmp:
        run(BuildOptions(repo=target, out=Path(tmp)))
        yield Path(tmp)


def load_callgraph(out: Path) -> CallGraph:
    """Read the call graph of a build output with one read-only DataFusion session."""
    from codeanatomy.plan.session import CPG_TABLES, new_session, register_delta_tables

    ctx = new_session()
    try:
        register_delta_tables(ctx, out, CPG_TABLES)
        ctx.register_view("calls", ctx.sql(_CALLS_SQL))
        node_rows = ctx.sql(_NODES_SQL).to_pylist()
        edge_rows = ctx.sql(_EDGES_SQL).to_pylist()
    except Exception as exc:  # deltalake and DataFusion raise many unrelated types
        detail = " ".join(str(exc).split())
        raise UsageError(f"cannot read the call graph of {out}: {detail}") from exc
    nodes = {row["node_id"]: _node(row) for row in node_rows}
    edges = [_edge(row, nodes) for row in edge_rows]
    edges.sort(key=lambda e: (e.path or "", e.line, e.col, e.caller, e.callee, e.edge_id))
    ordered = sorted(nodes.values(), key=lambda n: (n.kind, n.name, n.node_id))
    return CallGraph(edges=edges, nodes=ordered)


def export_name(kind: str, name: str | None, qualname: str | None) -> str:
    """The name a node has in every export (PyCG's ``<builtin>.X`` for builtins)."""
    if kind == "UNRESOLVED" or qualname is None:
        return name or ""
    if kind == "EXTERNAL" and qualname.startswith(BUILTIN_PREFIX):
        return PYCG_BUILTIN_PREFIX + qualname.removeprefix(BUILTIN_PREFIX)
    return qualname


def _node(row: dict[str, Any]) -> CallNode:
    return CallNode(
        node_id=row["node_id"],
        kind=row["kind"],
        name=export_name(row["kind"], row["name"], row["qualname"]),
        qualname=row["qualname"],
        path=row["path"],
        line=row["line"],
        col=row["col"],
    )


def _edge(row: dict[str, Any], nodes: dict[str, CallNode]) -> CallEdge:
    caller, callee = nodes[row["caller_node_id"]], nodes[row["callee_node_id"]]
    return CallEdge(
        caller=caller.name,
        callee=callee.name,
        caller_node_id=caller.node_id,
        callee_node_id=callee.node_id,
        callee_kind=callee.kind,
        path=row["path"],
        line=row["line"],
        col=row["col"],
        resolution_method=row["resolution_method"],
        confidence=row["confidence"],
        edge_id=row["edge_id"],
    )


def to_pycg(graph: CallGraph) -> dict[str, list[str]]:
    """PyCG's ``{caller: [callees]}``: every repo function and module a key, lists sorted.

    External callees are keys too (with ``[]``), as PyCG writes them.
    """
    calls: dict[str, set[str]] = {n.name: set() for n in graph.nodes if n.kind in KEY_KINDS}
    for edge in graph.edges:
        if edge.callee_kind in NOT_IN_PYCG or edge.resolution_method in NOT_IN_PYCG_METHODS:
            continue
        calls.setdefault(edge.caller, set()).add(edge.callee)
        calls.setdefault(edge.callee, set())
    return {caller: sorted(callees) for caller, callees in sorted(calls.items())}


def render_callgraph(graph: CallGraph, fmt: CallgraphFormat) -> str:
    if fmt == "pycg":
        return json.dumps(to_pycg(graph), indent=2, ensure_ascii=False) + "\n"
    if fmt == "json":
        return msgspec.json.format(msgspec.json.encode(graph), indent=2).decode() + "\n"
    if fmt == "dot":
        return render_dot(graph)
    return render_graphml(graph)


def render_dot(graph: CallGraph) -> str:
    """A Graphviz digraph keyed by export name; one edge per caller/callee pair.

    Unresolved targets are dashed, so they read as "could not tell", not as a real callee.
    """
    shapes = {"MODULE": "folder", "CLASS": "component", "EXTERNAL": "ellipse"}
    lines = ["digraph callgraph {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    for node in graph.nodes:
        attrs = f"shape={shapes.get(node.kind, 'box')}, tooltip={_quote(node.kind)}"
        if node.kind == "UNRESOLVED":
            attrs = f"shape=plaintext, style=dashed, tooltip={_quote(node.kind)}"
        lines.append(f"  {_quote(node.name)} [{attrs}];")
    pairs = sorted({(e.caller, e.callee, e.callee_kind == "UNRESOLVED") for e in graph.edges})
    for caller, callee, unresolved in pairs:
        style = " [style=dashed]" if unresolved else ""
        lines.append(f"  {_quote(caller)} -> {_quote(callee)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def render_graphml(graph: CallGraph) -> str:
    """GraphML: nodes by node id, one edge per call site (parallel edges are allowed).

    Nodes carry kind, export name and qualname; edges the resolution method, confidence
    and call site.
    """
    ET.register_namespace("", GRAPHML_NS)
    root = ET.Element(_tag("graphml"))
    keys = (
        ("kind", "node", "kind", "string"),
        ("name", "node", "name", "string"),
        ("qualname", "node", "qualname", "string"),
        ("path", "node", "path", "string"),
        ("line", "node", "line", "int"),
        ("method", "edge", "resolution_method", "string"),
        ("confidence", "edge", "confidence", "double"),
        ("site_path", "edge", "path", "string"),
        ("site_line", "edge", "line", "int"),
        ("site_col", "edge", "col", "int"),
    )
    for key_id, domain, attr_name, attr_type in keys:
        ET.SubElement(
            root,
            _tag("key"),
            {"id": key_id, "for": domain, "attr.name": attr_name, "attr.type": attr_type},
        )
    body = ET.SubElement(root, _tag("graph"), {"id": "callgraph", "edgedefault": "directed"})
    for node in graph.nodes:
        element = ET.SubElement(body, _tag("node"), {"id": node.node_id})
        _data(element, "kind", node.kind)
        _data(element, "name", node.name)
        _data(element, "qualname", node.qualname)
        _data(element, "path", node.path)
        _data(element, "line", node.line)
    for edge in graph.edges:
        element = ET.SubElement(
            body,
            _tag("edge"),
            {"id": edge.edge_id, "source": edge.caller_node_id, "target": edge.callee_node_id},
        )
        _data(element, "method", edge.resolution_method)
        _data(element, "confidence", edge.confidence)
        _data(element, "site_path", edge.path)
        _data(element, "site_line", edge.line)
        _data(element, "site_col", edge.col)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _tag(name: str) -> str:
    return f"{{{GRAPHML_NS}}}{name}"


def _data(element: ET.Element, key: str, value: str | int | float | None) -> None:
    """A ``<data>`` child, left out for a null (GraphML's way of saying "no value")."""
    if value is not None:
        ET.SubElement(element, _tag("data"), {"key": key}).text = _XML_INVALID.sub(
            "\ufffd", str(value)
        )
