"""SCIP evidence in the graph: SCIP_SYMBOL nodes, SCIP_OCCURRENCE edges, diagnostics,
REFERS_TO where only SCIP knows, and how SCIP and our resolution agree.

All rules are SQL over the ``scip_*`` evidence and the ``ast`` tables (spans are bytes in
both, so every link is an exact-span equi-join):

1. ``scip_occ_nodes``: each occurrence with the CPG node at its span — a ``NAME`` (the
   identifier), an ``ATTRIBUTE`` (its attribute name, or the whole ``a.b`` expression,
   which is how scip-python marks a module reached through a package), a
   ``FUNCTION``/``CLASS`` (its name), a ``PARAMETER`` and an ``IMPORT`` alias (by start:
   their spans run on past the name), the ``except ... as name`` handler (a SYNTAX
   node: the definition between the type and the body; the name has no node of its own,
   and our bindings use the handler too), the ``MODULE`` (the empty definition range at
   the file's start). Occurrences elsewhere (e.g. the ``pkg`` of ``from pkg import x``) have
   no node and are only counted.
2. SCIP_SYMBOL nodes (``scip_symbol_nodes``): one per symbol; a ``local`` symbol only
   means something inside its document, so its id includes the file
   (``stable_id("scip_symbol", file or "", symbol)``). Name and qualname come from the
   symbol's descriptors (``pkg.mod.Class.method``).
3. SCIP_OCCURRENCE edges (``scip_occurrence_edges``): node → symbol, props ``roles``
   (the SCIP bit set) and ``is_definition``.
4. DIAGNOSTIC nodes for SCIP diagnostics (+ HAS_DIAGNOSTIC from the file), and for
   repository-level ``extract_errors`` of layer ``scip`` (path ``.``: the tool was
   missing, timed out, failed or wrote an empty index), which belong to no file.
5. ``scip_definitions``: each symbol's definition occurrences (span, and node if any);
   ``scip_ref_targets(file_id, bstart, bend, def_file_id, def_bstart, def_bend)``: each
   reference occurrence with its symbol's definitions — the view resolution rules join
   to raise confidence where SCIP agrees.
6. REFERS_TO fills (``scip_refers_to``): a loaded name or attribute that none of our
   REFERS_TO rules (:data:`REFERS_TO_VIEWS`) resolves, whose SCIP symbol is defined at a
   CPG node of the repository, refers to that node — ``resolution_method = 'scip'``,
   confidence :data:`SCIP_ONLY_CONFIDENCE`.

Agreement (:func:`scip_agreement`, run after execution over ``cpg_edges``, so every
REFERS_TO rule counts): a loaded name *both resolve* when our REFERS_TO gives it a target
and SCIP gives it a symbol that is not an unresolved local (a ``local`` symbol without a
definition occurrence is how scip-python marks what it could not resolve). They *agree*
when one of our targets carries the same SCIP symbol at its own span (a binding site,
import alias, parameter or definition name) or is the EXTERNAL node whose qualname is the
symbol's. Comparing symbols rather than definition spans keeps the comparison fair where
the two stop at different places: our in-file rule stops at the import alias, SCIP goes
on to the imported definition, and both carry the same symbol. Symbols are compared
without their package header (one stdlib definition can be named under the project and
under typeshed's ``python-stdlib``). NAME uses make the headline; attribute uses are
counted apart (our attribute REFERS_TO targets the value an attribute holds, SCIP the
attribute itself).
"""

from __future__ import annotations

from collections.abc import Sequence

from datafusion import SessionContext

from codeanatomy.extract.scip.layer import REPO_PATH, ScipAgreement
from codeanatomy.plan.exprs import sql_stable_id
from codeanatomy.semantics.specs import SqlRuleSpec

# The rules that produce our own REFERS_TO edges; a SCIP fill never duplicates theirs.
REFERS_TO_VIEWS = ("res_refers_to", "cg_refers_to")
SCIP_ONLY_CONFIDENCE = 0.8
_ORIGIN = "'scip'"


class MissingRuleError(ValueError):
    """A view :data:`REFERS_TO_VIEWS` names is not among the program's rules."""


def _symbol_id(file_id: str, symbol: str) -> str:
    scope = f"CASE WHEN {symbol} LIKE 'local %' THEN {file_id} ELSE '' END"
    return sql_stable_id("scip_symbol", scope, symbol)


def _ast_id(file_id: str, node_idx: str) -> str:
    return sql_stable_id("ast", file_id, node_idx)


def _edge_id(kind: str, src: str, dst: str) -> str:
    return sql_stable_id("edge", f"'{kind}'", src, dst)


_OCC_COLUMNS = "o.file_id, o.occ_idx, o.symbol, o.roles, o.is_definition, o.bstart, o.bend"
_OCC_NODES = f"""
SELECT {_OCC_COLUMNS}, CAST(n.node_idx AS BIGINT) AS node_idx, 'NAME' AS node_kind
FROM scip_occurrences o
JOIN ast_names n ON n.file_id = o.file_id AND n.bstart = o.bstart AND n.bend = o.bend
UNION ALL
SELECT {_OCC_COLUMNS}, CAST(a.node_idx AS BIGINT), 'ATTRIBUTE'
FROM scip_occurrences o
JOIN ast_attributes a
  ON a.file_id = o.file_id AND a.attr_bstart = o.bstart AND a.attr_bend = o.bend
UNION ALL
SELECT {_OCC_COLUMNS}, CAST(a.node_idx AS BIGINT), 'ATTRIBUTE'
FROM scip_occurrences o
JOIN ast_attributes a ON a.file_id = o.file_id AND a.bstart = o.bstart AND a.bend = o.bend
UNION ALL
SELECT {_OCC_COLUMNS}, CAST(d.node_idx AS BIGINT),
       CASE WHEN d.kind = 'class' THEN 'CLASS' ELSE 'FUNCTION' END
FROM scip_occurrences o
JOIN ast_defs d ON d.file_id = o.file_id AND d.name_bstart = o.bstart AND d.name_bend = o.bend
UNION ALL
SELECT {_OCC_COLUMNS}, CAST(p.node_idx AS BIGINT), 'PARAMETER'
FROM scip_occurrences o
JOIN ast_params p ON p.file_id = o.file_id AND p.bstart = o.bstart
WHERE o.bend <= p.bend
UNION ALL
SELECT {_OCC_COLUMNS}, CAST(i.node_idx AS BIGINT), 'IMPORT'
FROM scip_occurrences o
JOIN ast_imports i ON i.file_id = o.file_id AND i.bstart = o.bstart
WHERE o.bend <= i.bend AND NOT i.is_star
UNION ALL
SELECT {_OCC_COLUMNS}, CAST(h.node_idx AS BIGINT), 'SYNTAX'
FROM scip_occurrences o
JOIN ast_assignments h ON h.file_id = o.file_id
JOIN ast_nodes t ON t.file_id = h.file_id AND t.node_idx = h.value_idx
JOIN ast_nodes b ON b.file_id = h.file_id AND b.parent_idx = h.node_idx
    AND b.field = 'body' AND b.child_index = 0
WHERE h.kind = 'except' AND o.is_definition AND o.bstart >= t.bend AND o.bend <= b.bstart
UNION ALL
SELECT {_OCC_COLUMNS}, CAST(m.node_idx AS BIGINT), 'MODULE'
FROM scip_occurrences o
JOIN ast_nodes m ON m.file_id = o.file_id AND m.node_idx = 0
WHERE o.is_definition AND o.bstart = o.bend
"""

_SYMBOL_ID = _symbol_id("s.file_id", "s.symbol")
_SYMBOL_NODES = f"""
SELECT {_SYMBOL_ID} AS node_id, 'SCIP_SYMBOL' AS node_kind,
       CASE WHEN s.is_local THEN s.file_id END AS file_id,
       CASE WHEN s.is_local THEN f.path END AS path, CAST(NULL AS BIGINT) AS bstart,
       CAST(NULL AS BIGINT) AS bend, COALESCE(s.name, s.symbol) AS name, s.qualname,
       {_ORIGIN} AS origin, s.symbol AS p__symbol, s.suffix AS p__suffix,
       s.package_name AS p__package, s.is_external AS p__is_external,
       s.documentation AS p__documentation
FROM scip_symbols s
JOIN repo_files f ON f.file_id = s.file_id
"""

_OCC_SRC = _ast_id("o.file_id", "o.node_idx")
_OCC_DST = _symbol_id("o.file_id", "o.symbol")
_OCCURRENCE_EDGES = f"""
SELECT {_edge_id("SCIP_OCCURRENCE", _OCC_SRC, _OCC_DST)} AS edge_id,
       'SCIP_OCCURRENCE' AS edge_kind, {_OCC_SRC} AS src_node_id, {_OCC_DST} AS dst_node_id,
       o.file_id, f.path, MIN(o.bstart) AS bstart, MIN(o.bend) AS bend, {_ORIGIN} AS origin,
       'scip' AS resolution_method, 1.0 AS confidence,
       bit_or(o.roles) AS p__roles, bool_or(o.is_definition) AS p__is_definition
FROM scip_occ_nodes o
JOIN repo_files f ON f.file_id = o.file_id
GROUP BY o.file_id, f.path, o.node_idx, o.symbol
"""

_DIAG_ID = sql_stable_id("scip_diagnostic", "d.file_id", "d.occ_idx", "d.diag_idx")
_DIAGNOSTIC_NODES = f"""
SELECT {_DIAG_ID} AS node_id, 'DIAGNOSTIC' AS node_kind, d.file_id, f.path,
       d.bstart, d.bend, COALESCE(NULLIF(d.code, ''), d.severity) AS name,
       CAST(NULL AS VARCHAR) AS qualname, {_ORIGIN} AS origin, 'scip' AS p__layer,
       d.message AS p__message, d.severity AS p__severity
FROM scip_diagnostics d
JOIN repo_files f ON f.file_id = d.file_id
UNION ALL
SELECT {sql_stable_id("diagnostic", "e.file_id", "e.layer")}, 'DIAGNOSTIC',
       CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT),
       CAST(NULL AS BIGINT), e.error_type, CAST(NULL AS VARCHAR), {_ORIGIN}, e.layer,
       e.message, 'error'
FROM extract_errors e
WHERE e.layer = 'scip' AND e.path = '{REPO_PATH}'
"""

_HAS_DIAGNOSTIC = f"""
SELECT {_edge_id("HAS_DIAGNOSTIC", "d.file_id", _DIAG_ID)} AS edge_id,
       'HAS_DIAGNOSTIC' AS edge_kind, d.file_id AS src_node_id, {_DIAG_ID} AS dst_node_id,
       d.file_id, f.path, d.bstart, d.bend, {_ORIGIN} AS origin,
       CAST(NULL AS VARCHAR) AS resolution_method, 1.0 AS confidence
FROM scip_diagnostics d
JOIN repo_files f ON f.file_id = d.file_id
"""

_DEFINITIONS = f"""
SELECT o.file_id AS def_file_id, o.bstart AS def_bstart, o.bend AS def_bend, o.symbol,
       CASE WHEN o.symbol LIKE 'local %' THEN o.file_id ELSE '' END AS symbol_scope,
       n.node_idx AS def_node_idx,
       CASE WHEN n.node_idx IS NULL THEN NULL ELSE {_ast_id("o.file_id", "n.node_idx")} END
           AS def_node_id
FROM scip_occurrences o
LEFT JOIN scip_occ_nodes n ON n.file_id = o.file_id AND n.occ_idx = o.occ_idx
WHERE o.is_definition AND o.bstart < o.bend
"""

_REF_TARGETS = """
SELECT o.file_id, o.bstart, o.bend, d.def_file_id, d.def_bstart, d.def_bend
FROM scip_occurrences o
JOIN scip_definitions d
  ON d.symbol = o.symbol
 AND d.symbol_scope = CASE WHEN o.symbol LIKE 'local %' THEN o.file_id ELSE '' END
WHERE NOT o.is_definition
"""

# Loaded names and attribute names with the SCIP occurrence at their span.
_USE_OCCURRENCES = """
SELECT o.file_id, CAST(n.node_idx AS BIGINT) AS node_idx, o.symbol, o.bstart, o.bend,
       'NAME' AS use_kind
FROM scip_occurrences o
JOIN ast_names n ON n.file_id = o.file_id AND n.bstart = o.bstart AND n.bend = o.bend
WHERE n.ctx = 'load' AND NOT o.is_definition
UNION ALL
SELECT o.file_id, CAST(a.node_idx AS BIGINT), o.symbol, a.bstart, a.bend, 'ATTRIBUTE'
FROM scip_occurrences o
JOIN ast_attributes a
  ON a.file_id = o.file_id AND a.attr_bstart = o.bstart AND a.attr_bend = o.bend
WHERE a.ctx = 'load' AND NOT o.is_definition
"""


def _refers_to_fill(views: Sequence[str]) -> str:
    ours = "\n    UNION ALL\n    ".join(f"SELECT src_node_id FROM {view}" for view in views)
    use_id = _ast_id("u.file_id", "u.node_idx")
    return f"""
WITH resolved AS (
    {ours}
),
fills AS (
    SELECT DISTINCT u.file_id, u.node_idx, u.bstart, u.bend, d.def_node_id
    FROM scip_use_occurrences u
    JOIN scip_definitions d
      ON d.symbol = u.symbol
     AND d.symbol_scope = CASE WHEN u.symbol LIKE 'local %' THEN u.file_id ELSE '' END
    WHERE d.def_node_id IS NOT NULL
)
SELECT {_edge_id("REFERS_TO", use_id, "u.def_node_id")} AS edge_id, 'REFERS_TO' AS edge_kind,
       {use_id} AS src_node_id, u.def_node_id AS dst_node_id, u.file_id, f.path,
       u.bstart, u.bend, {_ORIGIN} AS origin, 'scip' AS resolution_method,
       {SCIP_ONLY_CONFIDENCE} / COUNT(*) OVER (PARTITION BY u.file_id, u.node_idx)
           AS confidence
FROM fills u
JOIN repo_files f ON f.file_id = u.file_id
LEFT JOIN resolved r ON r.src_node_id = {use_id}
WHERE r.src_node_id IS NULL
"""


def scip_rules(existing: Sequence[SqlRuleSpec]) -> tuple[SqlRuleSpec, ...]:
    """The SCIP rules, given the program's other rules (the REFERS_TO views must be there)."""
    names = {rule.name for rule in existing}
    missing = [view for view in REFERS_TO_VIEWS if view not in names]
    if missing:
        raise MissingRuleError(f"REFERS_TO rules not in the program: {', '.join(missing)}")
    return (
        SqlRuleSpec("scip_occ_nodes", _OCC_NODES, "view", "SCIP occurrence → CPG node at its span"),
        SqlRuleSpec(
            "scip_symbol_nodes",
            _SYMBOL_NODES,
            "nodes",
            "SCIP_SYMBOL per symbol",
            props=("symbol", "suffix", "package", "is_external", "documentation"),
        ),
        SqlRuleSpec(
            "scip_occurrence_edges",
            _OCCURRENCE_EDGES,
            "edges",
            "node → the SCIP symbol occurring at its span",
            props=("roles", "is_definition"),
        ),
        SqlRuleSpec(
            "scip_diagnostic_nodes",
            _DIAGNOSTIC_NODES,
            "nodes",
            "SCIP diagnostics and repository-level SCIP errors",
            props=("layer", "message", "severity"),
        ),
        SqlRuleSpec("scip_has_diagnostic", _HAS_DIAGNOSTIC, "edges", "file → SCIP diagnostic"),
        SqlRuleSpec("scip_definitions", _DEFINITIONS, "view", "definition occurrences"),
        SqlRuleSpec("scip_ref_targets", _REF_TARGETS, "view", "reference span → definition span"),
        SqlRuleSpec(
            "scip_use_occurrences", _USE_OCCURRENCES, "view", "loaded names with their symbol"
        ),
        SqlRuleSpec(
            "scip_refers_to",
            _refers_to_fill(REFERS_TO_VIEWS),
            "edges",
            "REFERS_TO that only SCIP resolves",
        ),
    )


# A symbol compared without its package header: the stdlib in the repository is also in
# typeshed, so one definition can be named under two packages (``.`` and python-stdlib).
_KEY = "CASE WHEN {s} LIKE 'local %' THEN {s} ELSE regexp_replace({s}, '^([^ ]+ ){{4}}', '') END"
_AGREEMENT = f"""
WITH scip_occ_nodes AS ({_OCC_NODES}),
scip_use_occurrences AS ({_USE_OCCURRENCES}),
node_symbols AS (
    SELECT DISTINCT {_ast_id("file_id", "node_idx")} AS node_id,
           {_KEY.format(s="symbol")} AS symbol_key
    FROM scip_occ_nodes
),
defined AS (
    SELECT DISTINCT symbol,
           CASE WHEN symbol LIKE 'local %' THEN file_id ELSE '' END AS symbol_scope
    FROM scip_occurrences WHERE is_definition
),
uses AS (
    SELECT {_ast_id("u.file_id", "u.node_idx")} AS use_id, u.use_kind,
           {_KEY.format(s="u.symbol")} AS symbol_key, s.qualname,
           d.symbol IS NOT NULL AS defined_here,
           u.symbol NOT LIKE 'local %' OR d.symbol IS NOT NULL AS scip_resolves
    FROM scip_use_occurrences u
    LEFT JOIN defined d
      ON d.symbol = u.symbol
     AND d.symbol_scope = CASE WHEN u.symbol LIKE 'local %' THEN u.file_id ELSE '' END
    LEFT JOIN scip_symbols s
      ON s.symbol = u.symbol AND NOT s.is_local
),
ours AS (
    SELECT e.src_node_id AS use_id, e.dst_node_id AS target_id, n.node_kind, n.qualname
    FROM cpg_edges e JOIN cpg_nodes n ON n.node_id = e.dst_node_id
    WHERE e.edge_kind = 'REFERS_TO' AND e.resolution_method <> 'scip'
),
per_use AS (
    SELECT u.use_id, u.use_kind = 'NAME' AS is_name, u.scip_resolves, u.defined_here,
           COUNT(o.target_id) AS n_targets,
           MAX(CASE WHEN ns.symbol_key IS NOT NULL
                      OR (o.node_kind = 'EXTERNAL' AND o.qualname = u.qualname)
                    THEN 1 ELSE 0 END) AS agrees
    FROM uses u
    LEFT JOIN ours o ON o.use_id = u.use_id
    LEFT JOIN node_symbols ns ON ns.node_id = o.target_id AND ns.symbol_key = u.symbol_key
    GROUP BY u.use_id, u.use_kind, u.scip_resolves, u.defined_here
),
both AS (
    SELECT *, n_targets > 0 AND scip_resolves AS both_resolve FROM per_use
)
SELECT
    SUM(CASE WHEN is_name AND both_resolve THEN 1 ELSE 0 END) AS both,
    SUM(CASE WHEN is_name AND both_resolve AND agrees = 1 THEN 1 ELSE 0 END) AS agree,
    SUM(CASE WHEN is_name AND both_resolve AND defined_here THEN 1 ELSE 0 END) AS in_repo_both,
    SUM(CASE WHEN is_name AND both_resolve AND defined_here AND agrees = 1 THEN 1 ELSE 0 END)
        AS in_repo_agree,
    SUM(CASE WHEN is_name AND both_resolve AND NOT defined_here THEN 1 ELSE 0 END)
        AS external_both,
    SUM(CASE WHEN is_name AND both_resolve AND NOT defined_here AND agrees = 1
             THEN 1 ELSE 0 END) AS external_agree,
    SUM(CASE WHEN NOT is_name AND both_resolve THEN 1 ELSE 0 END) AS attributes_both,
    SUM(CASE WHEN NOT is_name AND both_resolve AND agrees = 1 THEN 1 ELSE 0 END)
        AS attributes_agree,
    SUM(CASE WHEN n_targets > 0 AND NOT scip_resolves THEN 1 ELSE 0 END) AS ours_only,
    SUM(CASE WHEN n_targets = 0 AND defined_here THEN 1 ELSE 0 END) AS scip_only
FROM both
"""

_MATCHED = """
SELECT COUNT(DISTINCT concat(o.file_id, '|', CAST(o.occ_idx AS VARCHAR))) AS matched
FROM scip_occ_nodes o
"""


def scip_agreement(ctx: SessionContext) -> ScipAgreement:
    """Agreement of SCIP with our REFERS_TO over the built ``cpg_edges`` (see module doc)."""
    row = ctx.sql(_AGREEMENT).to_pylist()[0]
    counts = {key: int(value or 0) for key, value in row.items()}
    matched = int(
        ctx.sql(f"WITH scip_occ_nodes AS ({_OCC_NODES}) {_MATCHED}").to_pylist()[0]["matched"]
    )
    total = int(ctx.sql("SELECT COUNT(*) AS n FROM scip_occurrences").to_pylist()[0]["n"])
    both, agree = counts["both"], counts["agree"]
    return ScipAgreement(
        uses_both_resolved=both,
        agree=agree,
        disagree=both - agree,
        agreement_rate=round(agree / both, 6) if both else None,
        in_repo_both=counts["in_repo_both"],
        in_repo_agree=counts["in_repo_agree"],
        external_both=counts["external_both"],
        external_agree=counts["external_agree"],
        attributes_both=counts["attributes_both"],
        attributes_agree=counts["attributes_agree"],
        refers_to_only=counts["ours_only"],
        scip_only=counts["scip_only"],
        occurrences_matched=matched,
        occurrences_unmatched=total - matched,
    )
