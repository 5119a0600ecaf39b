"""View builders: IR views → DataFusion DataFrames (DataFrame API, built-in functions only).

Each builder reads its inputs with ``ctx.table(...)`` — evidence tables and other views
by name — so the planner can read the dependencies off the plan. Node ids and edge ids
use :func:`stable_id_expr`, the plan twin of :func:`codeanatomy.ids.stable_id`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial, reduce

import pyarrow as pa
from datafusion import DataFrame, Expr, SessionContext, WindowFrame, col, lit
from datafusion import functions as f
from datafusion.expr import Window

from codeanatomy.plan.exprs import null, stable_id_expr
from codeanatomy.plan.session import cache_frame, compact_strings_sql, register_placeholder
from codeanatomy.plan.views import ViewDefinition
from codeanatomy.semantics.compiler import IREndpoint, IRView, IRWhere, SemanticProgramManifest
from codeanatomy.semantics.cpg_schema import CPG_EDGES, CPG_NODES, CPG_PROPS
from codeanatomy.semantics.modules import MODULE_NAMES_SQL

_RIGHT = "r__"  # prefix of the right side's columns in a joined relationship
_LAYER_ROOTS = {"ast": ("ast_nodes", "node_idx")}  # the table whose rows prove a layer read a file


def view_definitions(manifest: SemanticProgramManifest) -> list[ViewDefinition]:
    """One :class:`ViewDefinition` per IR view, in IR order."""
    views = manifest.ir.views
    entities = [v for v in views if v.kind == "entity"]
    entities += [v for v in views if v.kind == "rule" and v.produces == "nodes"]
    edges = [v for v in views if v.kind == "relationship"]
    edges += [v for v in views if v.kind == "rule" and v.produces == "edges"]
    result: list[ViewDefinition] = []
    for view in views:
        if view.kind == "files":
            result.append(ViewDefinition(view.name, _files, doc="file id, path, module name"))
        elif view.kind == "entity":
            claims = [
                e.name
                for e in entities
                if e.space == view.space and e is not view and not e.residual
            ]
            result.append(ViewDefinition(view.name, partial(_entity, view, claims)))
        elif view.kind == "relationship":
            result.append(ViewDefinition(view.name, partial(_relationship, view)))
        elif view.kind == "rule" and view.steps:
            result.append(
                ViewDefinition(
                    view.name,
                    partial(_fixpoint_run, view),
                    statements=partial(_fixpoint_statements, view),
                )
            )
        elif view.kind == "rule":
            result.append(ViewDefinition(view.name, partial(_rule, view)))
        elif view.name == "cpg_nodes":
            result.append(ViewDefinition(view.name, partial(_nodes, entities), role="output"))
        elif view.name == "cpg_edges":
            result.append(ViewDefinition(view.name, partial(_edges, edges), role="output"))
        elif view.name == "cpg_props":
            result.append(
                ViewDefinition(view.name, partial(_props, entities, edges), role="output")
            )
    return result


def _files(ctx: SessionContext) -> DataFrame:
    return ctx.sql(MODULE_NAMES_SQL).select(col("file_id"), col("path"), col("module"))


def _filtered(ctx: SessionContext, table: str, where: Sequence[IRWhere]) -> DataFrame:
    df = ctx.table(table)
    for w in where:
        df = df.filter(_predicate(w))
    return df


def _predicate(w: IRWhere) -> Expr:
    column = col(w.column)
    if w.op == "is null":
        return column.is_null()
    if w.op == "is not null":
        return column.is_not_null()
    if w.op in ("in", "not in"):
        values = [lit(v) for v in (w.value if isinstance(w.value, list) else [w.value])]
        return f.in_list(column, values, negated=w.op == "not in")
    value = lit(w.value)
    return column == value if w.op == "=" else column != value


def _without_layer(ctx: SessionContext, df: DataFrame, layer: str) -> DataFrame:
    """Rows of files the named layer could not read (tree-sitter standing in for it)."""
    table, index = _LAYER_ROOTS[layer]
    read = ctx.table(table).filter(col(index) == lit(0)).select(col("file_id").alias("l__fid"))
    return df.join(read, left_on="file_id", right_on="l__fid", how="anti")


def _entity(view: IRView, claims: Sequence[str], ctx: SessionContext) -> DataFrame:
    assert view.source is not None
    df = _filtered(ctx, view.source, view.where)
    if view.fallback_for is not None:
        df = _without_layer(ctx, df, view.fallback_for)
    if view.residual:
        for other in claims:
            taken = ctx.table(other).select(
                col("file_id").alias("c__fid"), col("c__idx").alias("c__idx")
            )
            df = df.join(
                taken,
                left_on=["file_id", _id_columns(view)[0]],
                right_on=["c__fid", "c__idx"],
                how="anti",
            )
    files = ctx.table("files").select(
        col("file_id").alias("f__fid"),
        col("path").alias("f__path"),
        col("module").alias("f__module"),
    )
    df = df.join(files, left_on="file_id", right_on="f__fid", how="inner")
    if view.space == "file":
        node_id = col("file_id")
    else:
        node_id = stable_id_expr(view.space or "", col("file_id"), *map(col, _id_columns(view)))
    if view.file_span:
        bstart, bend = lit(0).cast(pa.int64()), col("size").cast(pa.int64())
    elif view.span is not None:
        bstart, bend = col(view.span[0]), col(view.span[1])
    else:
        bstart = bend = null(pa.int64())
    if view.module_qualname:
        qualname = col("f__module")
    elif view.qualname_column:
        qualname = f.concat(col("f__module"), lit("."), col(view.qualname_column))
    else:
        qualname = null(pa.string())
    name = col(view.name_column) if view.name_column else null(pa.string())
    index_col = _id_columns(view)[0] if _id_columns(view) else "file_id"
    extra = [col(p).alias(f"p__{p}") for p in view.props]
    return df.select(
        node_id.alias("node_id"),
        lit(view.node_or_edge_kind).alias("node_kind"),
        col("file_id"),
        col("f__path").alias("path"),
        bstart.alias("bstart"),
        bend.alias("bend"),
        name.alias("name"),
        qualname.alias("qualname"),
        lit(view.source).alias("origin"),
        col(index_col).alias("c__idx"),
        *extra,
    )


def _id_columns(view: IRView) -> list[str]:
    assert view.id_columns is not None, f"{view.name}: id columns are inferred at compile time"
    return view.id_columns


def _endpoint(endpoint: IREndpoint, file_id: Expr) -> Expr:
    if endpoint.space == "file":
        return file_id
    prefix = _RIGHT if endpoint.side == "right" else ""
    parts = [col(prefix + c) for c in endpoint.columns]
    if endpoint.default is not None:
        if parts:
            parts[0] = f.coalesce(parts[0], lit(endpoint.default))
        else:
            parts = [lit(endpoint.default)]
    return stable_id_expr(endpoint.space, file_id, *parts)


def _relationship(view: IRView, ctx: SessionContext) -> DataFrame:
    assert view.source is not None and view.src is not None and view.dst is not None
    df = _filtered(ctx, view.source, view.where)
    if view.fallback_for is not None:
        df = _without_layer(ctx, df, view.fallback_for)
    if view.join is not None:
        right = _filtered(ctx, view.join.right, view.join.where)
        right = right.select(*[col(c).alias(_RIGHT + c) for c in right.schema().names])
        left_on = [left for left, _ in view.join.keys]
        right_on = [_RIGHT + r for _, r in view.join.keys]
        df = df.join(right, left_on=left_on, right_on=right_on, how="inner")
    files = ctx.table("files").select(col("file_id").alias("f__fid"), col("path").alias("f__path"))
    df = df.join(files, left_on="file_id", right_on="f__fid", how="inner")
    src = _endpoint(view.src, col("file_id"))
    dst = _endpoint(view.dst, col("file_id"))
    span = view.span
    bstart = col(span[0]) if span else null(pa.int64())
    bend = col(span[1]) if span else null(pa.int64())
    kind = view.node_or_edge_kind or ""
    extra = [col(p).alias(f"p__{p}") for p in view.props]
    return df.select(
        stable_id_expr("edge", lit(kind), src, dst).alias("edge_id"),
        lit(kind).alias("edge_kind"),
        src.alias("src_node_id"),
        dst.alias("dst_node_id"),
        col("file_id"),
        col("f__path").alias("path"),
        bstart.alias("bstart"),
        bend.alias("bend"),
        lit(view.source).alias("origin"),
        lit(view.resolution_method).cast(pa.string()).alias("resolution_method"),
        lit(view.edge_confidence).alias("confidence"),
        *extra,
    )


def _rule(view: IRView, ctx: SessionContext) -> DataFrame:
    assert view.sql is not None
    return ctx.sql(view.sql)


def _fixpoint_names(view: IRView) -> tuple[str, list[str]]:
    return f"{view.name}__state", [f"{view.name}__{step}" for step, _ in view.steps]


def _previous_names(view: IRView) -> list[str | None]:
    """Per step, ``<view>__prev_<step>`` when some step reads that step's last value."""
    return [
        prev if any(prev in sql for _, sql in view.steps) else None
        for prev in (f"{view.name}__prev_{step}" for step, _ in view.steps)
    ]


def _fixpoint_statements(view: IRView, ctx: SessionContext) -> tuple[DataFrame, ...]:
    """A fixpoint rule (see :class:`SqlRuleSpec`) as planned: its initial state and steps.

    Each statement is planned over schema-only placeholders of the state and the earlier
    steps, so no plan inlines another (inlined, the steps' plans grow exponentially with
    the number of times each reads the previous ones). The last step has the view's
    schema: at a fixpoint it returns the state :func:`_fixpoint_run` computes.
    """
    assert view.sql is not None
    state, names = _fixpoint_names(view)
    previous = _previous_names(view)
    frames = [ctx.sql(compact_strings_sql(ctx, view.sql))]
    register_placeholder(ctx, state, frames[0].schema())
    try:
        for name, prev, (_, sql) in zip(names, previous, view.steps, strict=True):
            frames.append(ctx.sql(compact_strings_sql(ctx, sql)))
            for placeholder in (name, prev):
                if placeholder is not None:
                    register_placeholder(ctx, placeholder, frames[-1].schema())
    finally:
        for name in (*names, *filter(None, previous), state):
            if ctx.table_exist(name):
                ctx.deregister_table(name)
    return tuple(frames)


def _fixpoint_run(view: IRView, ctx: SessionContext) -> DataFrame:
    """Iterate a fixpoint rule with DataFusion doing each step; return the final state.

    Every step of an iteration is computed once into memory; iteration stops when an
    iteration finds no fresh row or after ``max_iterations`` (the state then still has
    fresh rows, which the rule's readers report). Temporary names are dropped.
    """
    assert view.sql is not None
    state, names = _fixpoint_names(view)
    previous = _previous_names(view)
    _register(ctx, state, cache_frame(ctx, ctx.sql(compact_strings_sql(ctx, view.sql))))
    steps: list[str] = []
    for _ in range(view.max_iterations):
        for i, (name, prev, (_, sql)) in enumerate(zip(names, previous, view.steps, strict=True)):
            if len(steps) == i:
                steps.append(compact_strings_sql(ctx, sql))
            frame = cache_frame(ctx, ctx.sql(steps[i]))
            if prev is not None and ctx.table_exist(name):
                _register(ctx, prev, ctx.table(name))
            elif prev is not None:
                register_placeholder(ctx, prev, frame.schema())
            _register(ctx, name, frame)
        fresh = ctx.sql(f"SELECT COUNT(*) AS n FROM {names[-1]} WHERE fresh")
        _register(ctx, state, ctx.table(names[-1]))
        if fresh.to_pydict()["n"][0] == 0:
            break
    final = ctx.table(state)
    for name in (*names, *filter(None, previous), state):
        ctx.deregister_table(name)
    return final


def _register(ctx: SessionContext, name: str, df: DataFrame) -> None:
    if ctx.table_exist(name):
        ctx.deregister_table(name)
    ctx.register_view(name, df)


def _conform(df: DataFrame, schema: pa.Schema) -> DataFrame:
    names = set(df.schema().names)
    return df.select(
        *[
            (col(fld.name).cast(fld.type) if fld.name in names else null(fld.type)).alias(fld.name)
            for fld in schema
        ]
    )


def _union(frames: Sequence[DataFrame]) -> DataFrame:
    return reduce(lambda a, b: a.union(b), frames)


def _nodes(entities: Sequence[IRView], ctx: SessionContext) -> DataFrame:
    nodes = _union([_conform(ctx.table(v.name), CPG_NODES) for v in entities])
    return _conform(
        _with_positions(ctx, nodes.drop("line_start", "col_start", "line_end", "col_end")),
        CPG_NODES,
    )


def _with_positions(ctx: SessionContext, nodes: DataFrame) -> DataFrame:
    """Lines and character columns of node spans, derived in the plan from the line index.

    A range join of spans against lines is quadratic inside a file; instead span points
    and line starts are merged per file and a running max over byte order finds each
    point's line. Character columns subtract the extra bytes of wide characters earlier
    on the line (``file_wide_chars``). The end line is the line of the last byte.
    """
    # No filter on the spans here: pushed through the union into pyarrow dataset scans, a
    # predicate that folds to a constant for some branches fails in DataFusion's
    # conversion. Nodes without a span get null positions at the end instead.
    spans = nodes
    int64 = pa.int64()

    def points(end: bool) -> DataFrame:
        last = f.when(col("bend") > col("bstart"), col("bend") - lit(1)).otherwise(col("bstart"))
        return spans.select(
            col("node_id").alias("q_id"),
            lit(end).alias("q_end"),
            col("file_id").alias("q_fid"),
            (last if end else col("bstart")).alias("q_pos"),
            col("bend" if end else "bstart").alias("q_colpos"),
            lit(1).alias("q_rank"),
            null(pa.int32()).alias("q_line"),
            null(int64).alias("q_lstart"),
        )

    lines = ctx.table("file_lines").select(
        null(pa.string()).alias("q_id"),
        null(pa.bool_()).alias("q_end"),
        col("file_id").alias("q_fid"),
        col("line_start_byte").alias("q_pos"),
        col("line_start_byte").alias("q_colpos"),
        lit(0).alias("q_rank"),
        col("line_no").alias("q_line"),
        col("line_start_byte").alias("q_lstart"),
    )
    window = Window(
        partition_by=[col("q_fid")],
        order_by=[col("q_pos").sort(), col("q_rank").sort()],
        window_frame=WindowFrame("rows", None, 0),
    )
    # No filter touches q_id/q_end: they are constants in the union's line branch, and a
    # filter pushed there becomes a literal the pyarrow dataset scan cannot take. Line
    # rows instead fall into the null q_id group below, which joins to no node.
    located = _union([points(False), points(True), lines]).select(
        col("q_id"),
        col("q_end"),
        col("q_fid"),
        col("q_colpos"),  # an empty file has no lines: its spans sit at line 1, byte 0
        f.coalesce(f.max(col("q_line")).over(window), lit(1)).alias("q_line"),
        f.coalesce(f.max(col("q_lstart")).over(window), lit(0)).alias("q_lstart"),
    )
    wide = ctx.table("file_wide_chars")
    extra = (
        located.join(wide, left_on=["q_fid", "q_line"], right_on=["file_id", "line_no"])
        .filter(col("byte_offset") < col("q_colpos"))
        .aggregate(
            [col("q_id").alias("x_id"), col("q_end").alias("x_end")],
            [f.sum(col("extra_bytes")).alias("x_extra")],
        )
    )
    column = col("q_colpos") - col("q_lstart") - f.coalesce(col("x_extra"), lit(0))
    is_end = col("q_end")
    per_node = located.join(
        extra, left_on=["q_id", "q_end"], right_on=["x_id", "x_end"], how="left"
    ).aggregate(
        [col("q_id").alias("p_id")],
        [
            f.max(f.when(~is_end, col("q_line")).end()).alias("line_start"),
            f.max(f.when(~is_end, column).end()).alias("col_start"),
            f.max(f.when(is_end, col("q_line")).end()).alias("line_end"),
            f.max(f.when(is_end, column).end()).alias("col_end"),
        ],
    )
    located_nodes = nodes.join(per_node, left_on="node_id", right_on="p_id", how="left")
    no_span = col("bstart").is_null()
    return located_nodes.select(
        *[col(c) for c in nodes.schema().names],
        *[
            f.when(no_span, null(pa.int32())).otherwise(col(c).cast(pa.int32())).alias(c)
            for c in ("line_start", "col_start", "line_end", "col_end")
        ],
    )


def _edges(edges: Sequence[IRView], ctx: SessionContext) -> DataFrame:
    return _union([_conform(ctx.table(v.name), CPG_EDGES) for v in edges])


def _props(entities: Sequence[IRView], edges: Sequence[IRView], ctx: SessionContext) -> DataFrame:
    frames = []
    for view in [*entities, *edges]:
        if not view.props:  # reading it would make a dependency that contributes nothing
            continue
        id_column = "node_id" if view in entities else "edge_id"
        table = ctx.table(view.name)
        types = {field.name: field.type for field in table.schema()}
        for prop in view.props:
            value = col(f"p__{prop}")
            value_type = _value_type(types[f"p__{prop}"])
            frames.append(
                _conform(
                    table.filter(value.is_not_null()).select(
                        lit("node" if view in entities else "edge").alias("entity_kind"),
                        col(id_column).alias("entity_id"),
                        col("file_id"),
                        lit(prop).alias("prop_key"),
                        lit(value_type).alias("value_type"),
                        value.alias(f"value_{value_type}"),
                    ),
                    CPG_PROPS,
                )
            )
    return _union(frames)


def _value_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_integer(arrow_type):
        return "int"
    if pa.types.is_floating(arrow_type):
        return "float"
    return "string"
