"""The semantic compiler: specs + evidence schemas → IR → manifest.

``compile → infer → optimize → emit``, run once per build by :func:`compile_program`:

* compile: one IR view per entity spec (``node_*``) and relationship rule (``edge_*``),
  plus the shared ``files`` view and the three outputs;
* infer: for every view, its id space and columns, its span columns, its join keys
  (from semantic types; an override is recorded as such), each with an
  :class:`InferenceConfidence`;
* optimize: prune views that do not feed the requested outputs, drop duplicates;
* emit: the :class:`SemanticProgramManifest` — IR, dataset bindings (where every
  evidence table lives), validation result and a fingerprint over all of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import msgspec
import pyarrow as pa

from codeanatomy.semantics.decisions import InferenceConfidence, certain
from codeanatomy.semantics.specs import EntitySpec, RelationshipSpec, SqlRuleSpec, Where
from codeanatomy.semantics.types import AnnotatedSchema, JoinInferenceError, infer_join_keys

OUTPUTS = ("cpg_nodes", "cpg_edges", "cpg_props")
ViewKind = Literal["files", "entity", "relationship", "rule", "output"]


class IRWhere(msgspec.Struct, frozen=True):
    column: str
    op: str
    value: str | int | bool | list[str | int | bool] | None


class IRJoin(msgspec.Struct, frozen=True, kw_only=True):
    right: str
    kind: str
    keys: list[tuple[str, str]]
    where: list[IRWhere]
    override_reason: str | None
    confidence: InferenceConfidence


class IREndpoint(msgspec.Struct, frozen=True, kw_only=True):
    space: str
    columns: list[str]
    side: str
    default: int | None


class IRView(msgspec.Struct, frozen=True, kw_only=True):
    """One view of the program, with everything the view builders need."""

    name: str
    kind: ViewKind
    node_or_edge_kind: str | None = None
    source: str | None = None
    where: list[IRWhere] = []
    fallback_for: str | None = None
    residual: bool = False
    space: str | None = None
    id_columns: list[str] | None = None  # None: the source's node_index column
    span: tuple[str, str] | None = None
    name_column: str | None = None
    qualname_column: str | None = None
    module_qualname: bool = False
    file_span: bool = False
    props: list[str] = []
    join: IRJoin | None = None
    src: IREndpoint | None = None
    dst: IREndpoint | None = None
    resolution_method: str | None = None
    edge_confidence: float = 1.0
    inputs_hint: list[str] = []  # for docs only; dependencies are read off plans
    sql: str | None = None  # rule views: the SELECT
    produces: str | None = None  # rule views: view | nodes | edges
    steps: list[tuple[str, str]] = []  # fixpoint rule views: (name, SELECT) per iteration
    max_iterations: int = 0
    confidence: InferenceConfidence | None = None


class DatasetBinding(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    path: str
    role: Literal["evidence", "output"]


class SemanticIR(msgspec.Struct, frozen=True, kw_only=True):
    views: list[IRView]


class SemanticProgramManifest(msgspec.Struct, frozen=True, kw_only=True):
    ir: SemanticIR
    bindings: list[DatasetBinding]
    validation: list[str]  # problems found; empty when valid
    fingerprint: str


class CompileError(ValueError):
    """The mapping does not fit the evidence (unknown table/column, unresolvable join)."""


def compile_program(
    entities: Sequence[EntitySpec],
    relationships: Sequence[RelationshipSpec],
    evidence: Mapping[str, pa.Schema],
    out: Path,
    outputs: Sequence[str] = OUTPUTS,
    rules: Sequence[SqlRuleSpec] = (),
) -> SemanticProgramManifest:
    """Compile the mapping against the evidence schemas (the one compile of a run)."""
    annotated = {name: AnnotatedSchema.of(name, schema) for name, schema in evidence.items()}
    views = _compile(entities, relationships, rules)
    views = [_infer(view, annotated) for view in views]
    views = _optimize(views, outputs)
    validation = _validate(views, evidence)
    return _emit(views, evidence, out, validation)


def _compile(
    entities: Sequence[EntitySpec],
    relationships: Sequence[RelationshipSpec],
    rules: Sequence[SqlRuleSpec],
) -> list[IRView]:
    views = [IRView(name="files", kind="files", source="repo_files")]
    for index, spec in enumerate(entities):
        views.append(
            IRView(
                name=f"node_{spec.kind.lower()}_{index}",
                kind="entity",
                node_or_edge_kind=spec.kind,
                source=spec.source,
                where=[_where(w) for w in spec.where],
                fallback_for=spec.fallback_for,
                residual=spec.residual,
                space=spec.space,
                id_columns=list(spec.id_columns) if spec.id_columns is not None else None,
                name_column=spec.name,
                qualname_column=spec.qualname,
                module_qualname=spec.module_qualname,
                file_span=spec.file_span,
                props=list(spec.props),
            )
        )
    for index, rel in enumerate(relationships):
        join = None
        if rel.join is not None:
            explicit = list(zip(rel.join.left_on, rel.join.right_on, strict=True))
            join = IRJoin(
                right=rel.join.right,
                kind=rel.join.kind,
                keys=explicit,
                where=[_where(w) for w in rel.join.where],
                override_reason=rel.join.override_reason,
                confidence=certain("spec_override") if explicit else certain("pending"),
            )
        views.append(
            IRView(
                name=f"edge_{rel.kind.lower()}_{index}",
                kind="relationship",
                node_or_edge_kind=rel.kind,
                source=rel.source,
                where=[_where(w) for w in rel.where],
                fallback_for=rel.fallback_for,
                props=list(rel.props),
                join=join,
                src=_endpoint(rel.src.space, rel.src.columns, rel.src.side, rel.src.default),
                dst=_endpoint(rel.dst.space, rel.dst.columns, rel.dst.side, rel.dst.default),
                resolution_method=rel.resolution_method,
                edge_confidence=rel.confidence,
            )
        )
    views += [
        IRView(
            name=rule.name,
            kind="rule",
            sql=rule.sql,
            produces=rule.produces,
            props=list(rule.props),
            steps=list(rule.steps),
            max_iterations=rule.max_iterations,
        )
        for rule in rules
    ]
    views += [IRView(name=name, kind="output") for name in OUTPUTS]
    return views


def _infer(view: IRView, schemas: Mapping[str, AnnotatedSchema]) -> IRView:
    if view.source is None:
        return view
    if view.source not in schemas:
        raise CompileError(f"{view.name}: unknown evidence table {view.source!r}")
    schema = schemas[view.source]
    sources = [f"schema:{view.source}"]
    space, id_columns = view.space, view.id_columns
    if view.kind == "entity" and (space is None or id_columns is None):
        node = schema.node_index()
        space = space or node.space
        id_columns = [node.name] if id_columns is None else id_columns
        sources.append("semantic_type:node_index")
    span = None
    if view.kind in ("entity", "relationship") and not view.file_span:
        try:
            span = schema.span()
            sources.append("semantic_type:span")
        except JoinInferenceError:
            span = None
    join = view.join
    if join is not None:
        if join.right not in schemas:
            raise CompileError(f"{view.name}: unknown join table {join.right!r}")
        if join.keys:
            if not join.override_reason:
                raise CompileError(f"{view.name}: explicit join keys need an override_reason")
            confidence = InferenceConfidence(
                score=1.0,
                evidence_sources=("spec_override",),
                fallback_reason=f"override: {join.override_reason}",
            )
            join = msgspec.structs.replace(join, confidence=confidence)
        else:
            try:
                keys, confidence = infer_join_keys(schema, schemas[join.right], join.kind)  # type: ignore[arg-type]
            except JoinInferenceError as exc:
                raise CompileError(f"{view.name}: {exc}") from exc
            join = msgspec.structs.replace(join, keys=list(keys), confidence=confidence)
    return msgspec.structs.replace(
        view,
        space=space,
        id_columns=id_columns,
        span=span,
        join=join,
        confidence=InferenceConfidence(score=1.0, evidence_sources=tuple(sources)),
    )


def _optimize(views: list[IRView], outputs: Sequence[str]) -> list[IRView]:
    wanted = set(outputs)
    kept: list[IRView] = []
    seen: set[bytes] = set()
    for view in views:
        if view.kind == "output" and view.name not in wanted:
            continue
        if view.kind == "relationship" and "cpg_edges" not in wanted:
            continue
        if view.kind == "rule" and view.produces == "edges" and "cpg_edges" not in wanted:
            continue
        key = msgspec.json.encode(msgspec.structs.replace(view, name=""))
        if view.kind != "output" and key in seen:
            continue
        seen.add(key)
        kept.append(view)
    return kept


def _validate(views: Sequence[IRView], evidence: Mapping[str, pa.Schema]) -> list[str]:
    problems = []
    for view in views:
        if view.source is None:
            continue
        names = set(evidence[view.source].names)
        needed = [w.column for w in view.where] + view.props + (view.id_columns or [])
        needed += [c for c in (view.name_column, view.qualname_column) if c]
        for endpoint in (view.src, view.dst):
            if endpoint is not None and endpoint.side == "left":
                needed += endpoint.columns
        problems += [
            f"{view.name}: column {c!r} not in {view.source}" for c in needed if c not in names
        ]
        if view.join is not None:
            right = set(evidence[view.join.right].names)
            for endpoint in (view.src, view.dst):
                if endpoint is not None and endpoint.side == "right":
                    problems += [
                        f"{view.name}: column {c!r} not in {view.join.right}"
                        for c in endpoint.columns
                        if c not in right
                    ]
    return problems


def _emit(
    views: list[IRView], evidence: Mapping[str, pa.Schema], out: Path, validation: list[str]
) -> SemanticProgramManifest:
    if validation:
        raise CompileError("; ".join(validation))
    ir = SemanticIR(views=views)
    bindings = [
        DatasetBinding(name=name, path=str(out / "evidence" / name), role="evidence")
        for name in sorted(evidence)
    ] + [DatasetBinding(name=name, path=str(out / name), role="output") for name in OUTPUTS]
    payload = msgspec.json.encode(ir) + msgspec.json.encode([(b.name, b.role) for b in bindings])
    schema_text = "".join(f"{n}:{evidence[n]}" for n in sorted(evidence)).encode()
    fingerprint = hashlib.sha256(payload + schema_text).hexdigest()
    return SemanticProgramManifest(
        ir=ir, bindings=bindings, validation=validation, fingerprint=fingerprint
    )


def _where(w: Where) -> IRWhere:
    value = list(w.value) if isinstance(w.value, tuple) else w.value
    return IRWhere(w.column, w.op, value)


def _endpoint(space: str, columns: Sequence[str], side: str, default: int | None) -> IREndpoint:
    return IREndpoint(space=space, columns=list(columns), side=side, default=default)
