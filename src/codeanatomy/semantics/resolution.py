"""Name resolution inside a file: BINDS, REFERS_TO, EXTERNAL builtins and HAS_BLOCK.

The rule set, in one place. Every step is relational (DataFusion SQL over the ``ast``,
``symtable`` and ``bytecode`` evidence); the compiler (``symtable``) is the authority on
what a name means in its scope, the ``ast`` tables say where the occurrences are.

1. ``res_scope_ancestors``: every scope's proper ancestors with their depth (recursive);
   ``res_module_scope``: each file's module scope (the one without a parent).
2. ``res_def_scope``: the symtable scope each ast definition opens — named defs and
   classes by the identifier's span (``ast_defs.bstart`` starts at a decorator's ``@``,
   the scope at ``def``/``class``; the name spans agree), lambdas by their span; the
   module scope is keyed by ast node 0 (the Module), so a null ``scope_def_idx`` /
   ``parent_def_idx`` (top level) joins as 0.
3. ``res_comp_scopes``: comprehension scopes (3.11 gives each its own) with their nearest
   non-comprehension ancestor and the span of their *first iterable*, which Python
   evaluates in the enclosing scope (the ``comprehension`` ast node with ``child_index``
   0 and its ``iter`` child).
4. ``res_name_scopes``: load/store ``Name`` nodes with the scope they are written in. A
   name lexically in a comprehension takes the innermost comprehension scope whose span
   holds it, whose nearest non-comprehension ancestor is the name's definition scope,
   and whose first iterable does not hold it. ``res_bind_sites``: binding occurrences —
   store names, parameters, import aliases (``asname``, else the first component of
   ``import a.b.c``; star imports skipped), class/def names (in the parent
   definition's scope) and ``except ... as name`` (the handler node: the name has no
   node of its own).
5. ``res_symbol_owner``: per symbol, the scope that owns its binding, from its flags:
   free/nonlocal → the nearest enclosing *function* scope where the name is local (class
   scopes are skipped, as Python does) — ``enclosing_scope``; declared or implicit
   global → the module scope — ``global_scope``; local → its own scope —
   ``lexical_scope`` (also every module-level symbol). Resolving symbols, not
   occurrences, places writes right too: ``global G; G = 1`` and ``nonlocal`` writes
   bind in the owning scope, a walrus in a comprehension in the enclosing function.
6. ``res_bindings`` (binding sites per owning scope and name, with their count) and
   ``res_uses`` (load names with their owning scope). A use with no symbol in its scope
   (annotations under ``from __future__ import annotations`` are strings the compiler
   never sees) is looked up at module level — ``global_fallback``, confidence 0.5.
7. REFERS_TO (``res_use_targets`` → ``res_refers_to``): a use → every binding site of its
   owning scope (flow-insensitive: one edge per site, confidence ``1/n`` over ``n``
   sites); a module-owned use without a module binding whose name is a builtin of the
   running interpreter (``dir(builtins)``, sorted, minus the attributes every module
   has) → EXTERNAL ``builtins.<name>`` — ``builtins`` (confidence 0.5 in a module with a
   star import, which may shadow it).
8. EXTERNAL nodes (``res_external_builtins``): one per external name anything reaches —
   referenced builtins and the names ``semantics/callgraph.py`` resolves to
   (``cg_externals``) — id ``stable_id("external", "<dotted name>")``, unique across files
   (prop ``n_uses``).
9. BINDS (``res_binds``): binding occurrence → the SYMBOL of its owning scope.
10. HAS_BLOCK (``res_has_block``): a code object's owner is the MODULE (span source
    ``module``) or the FUNCTION/CLASS whose ast node has the code object's span (the
    defining node's own position, as in ``ast_nodes``) — ``code_span``; a
    comprehension's code object has no CPG kind, so its blocks go to the nearest owned
    ancestor code object — ``enclosing_code``.

Filters on constants are kept away from ``UNION ALL`` branches: pushed into a pyarrow
dataset scan, a predicate that folds to a literal fails in DataFusion's conversion.

Known limits: resolution is flow-insensitive (every binding site of the scope, not the
reaching ones); ``match`` capture patterns and ``del`` do not bind (they are not
``Name`` stores), so their uses stay unresolved; names bound only by a
star import are unresolved; augmented assignment targets count as bindings, not uses; a
generator expression written bare inside f-string braces has a narrowed ast span, so its
first iterable is not recognised; class-body names read before their assignment are
resolved to the class binding, not to the module fallback Python would use at run time.
"""

from __future__ import annotations

import builtins
import types

from codeanatomy.plan.exprs import sql_stable_id
from codeanatomy.semantics.specs import SqlRuleSpec

_COMPREHENSIONS = "('ListComp', 'SetComp', 'DictComp', 'GeneratorExp')"
_CODE_DEFS = "('FunctionDef', 'AsyncFunctionDef', 'ClassDef', 'Lambda')"
_ORIGIN = "'resolution'"


def _builtin_names() -> tuple[str, ...]:
    """Public names of ``builtins`` on this interpreter, without the attributes every
    module has (``__name__`` at module level is the module's own)."""
    module_attrs = set(vars(types.ModuleType("_")))
    return tuple(
        sorted(
            name
            for name in dir(builtins)
            if name not in module_attrs
            and (not name.startswith("_") or (name.startswith("__") and name.endswith("__")))
        )
    )


BUILTIN_NAMES = _builtin_names()
_BUILTINS_VALUES = ", ".join(f"('{name}')" for name in BUILTIN_NAMES)


def _ast_id(file_id: str, node_idx: str) -> str:
    return sql_stable_id("ast", file_id, node_idx)


def _edge_id(kind: str, src: str, dst: str) -> str:
    return sql_stable_id("edge", f"'{kind}'", src, dst)


_SCOPE_ANCESTORS = """
WITH RECURSIVE anc(file_id, scope_idx, ancestor_idx, depth) AS (
    SELECT file_id, scope_idx, parent_scope_idx AS ancestor_idx, CAST(1 AS BIGINT) AS depth
    FROM sym_scopes WHERE parent_scope_idx IS NOT NULL
    UNION ALL
    SELECT a.file_id, a.scope_idx, s.parent_scope_idx, a.depth + 1
    FROM anc a JOIN sym_scopes s ON s.file_id = a.file_id AND s.scope_idx = a.ancestor_idx
    WHERE s.parent_scope_idx IS NOT NULL
)
SELECT file_id, scope_idx, ancestor_idx, depth FROM anc
"""

_MODULE_SCOPE = """
SELECT file_id, scope_idx FROM sym_scopes WHERE parent_scope_idx IS NULL
"""

_DEF_SCOPE = """
SELECT file_id, CAST(0 AS BIGINT) AS def_idx, scope_idx FROM res_module_scope
UNION ALL
SELECT d.file_id, CAST(d.node_idx AS BIGINT), s.scope_idx
FROM ast_defs d JOIN sym_scopes s
  ON s.file_id = d.file_id AND s.name_bstart = d.name_bstart AND s.name_bend = d.name_bend
WHERE d.kind <> 'lambda' AND s.def_node_kind IN ('FunctionDef', 'AsyncFunctionDef', 'ClassDef')
UNION ALL
SELECT d.file_id, CAST(d.node_idx AS BIGINT), s.scope_idx
FROM ast_defs d JOIN sym_scopes s
  ON s.file_id = d.file_id AND s.bstart = d.bstart AND s.bend = d.bend
WHERE d.kind = 'lambda' AND s.def_node_kind = 'Lambda'
"""

_COMP_SCOPES = f"""
WITH comp AS (
    SELECT file_id, scope_idx, def_node_kind, bstart, bend
    FROM sym_scopes WHERE def_node_kind IN {_COMPREHENSIONS}
),
owner AS (
    SELECT a.file_id, a.scope_idx, a.ancestor_idx,
           ROW_NUMBER() OVER (PARTITION BY a.file_id, a.scope_idx ORDER BY a.depth) AS rn
    FROM res_scope_ancestors a
    JOIN sym_scopes s ON s.file_id = a.file_id AND s.scope_idx = a.ancestor_idx
    WHERE s.def_node_kind IS NULL OR s.def_node_kind NOT IN {_COMPREHENSIONS}
),
first_iter AS (
    SELECT c.file_id, c.ast_type, c.bstart, c.bend, i.bstart AS iter_bstart, i.bend AS iter_bend
    FROM ast_nodes c
    JOIN ast_nodes g ON g.file_id = c.file_id AND g.parent_idx = c.node_idx
    JOIN ast_nodes i ON i.file_id = g.file_id AND i.parent_idx = g.node_idx
    WHERE c.ast_type IN {_COMPREHENSIONS} AND g.ast_type = 'comprehension'
      AND g.child_index = 0 AND i.field = 'iter'
)
SELECT comp.file_id, comp.scope_idx, owner.ancestor_idx AS owner_scope_idx,
       comp.bstart, comp.bend, first_iter.iter_bstart, first_iter.iter_bend
FROM comp
JOIN owner ON owner.file_id = comp.file_id AND owner.scope_idx = comp.scope_idx AND owner.rn = 1
LEFT JOIN first_iter ON first_iter.file_id = comp.file_id
    AND first_iter.ast_type = comp.def_node_kind
    AND first_iter.bstart = comp.bstart AND first_iter.bend = comp.bend
"""

_NAME_SCOPES = """
WITH names AS (
    SELECT n.file_id, CAST(n.node_idx AS BIGINT) AS node_idx, n.name, n.ctx,
           n.in_comprehension, n.bstart, n.bend, d.scope_idx AS def_scope
    FROM ast_names n
    JOIN res_def_scope d
      ON d.file_id = n.file_id AND d.def_idx = COALESCE(CAST(n.scope_def_idx AS BIGINT), 0)
    WHERE n.ctx IN ('load', 'store')
),
comp_hits AS (
    SELECT n.file_id, n.node_idx, c.scope_idx,
           ROW_NUMBER() OVER (
               PARTITION BY n.file_id, n.node_idx ORDER BY c.bend - c.bstart, c.bstart DESC
           ) AS rn
    FROM names n
    JOIN res_comp_scopes c ON c.file_id = n.file_id AND c.owner_scope_idx = n.def_scope
    WHERE n.in_comprehension AND c.bstart <= n.bstart AND n.bend <= c.bend
      AND NOT (c.iter_bstart IS NOT NULL
               AND c.iter_bstart <= n.bstart AND n.bend <= c.iter_bend)
)
SELECT n.file_id, n.node_idx, n.name, n.ctx, n.bstart, n.bend,
       COALESCE(h.scope_idx, n.def_scope) AS scope_idx
FROM names n
LEFT JOIN (SELECT * FROM comp_hits WHERE rn = 1) h
  ON h.file_id = n.file_id AND h.node_idx = n.node_idx
"""

_BIND_SITES = """
SELECT file_id, node_idx, name, bstart, bend, scope_idx FROM res_name_scopes WHERE ctx = 'store'
UNION ALL
SELECT x.file_id, x.node_idx, x.name, x.bstart, x.bend, d.scope_idx
FROM (
    SELECT file_id, CAST(node_idx AS BIGINT) AS node_idx, name, bstart, bend,
           CAST(def_idx AS BIGINT) AS def_idx
    FROM ast_params
    UNION ALL
    SELECT file_id, CAST(node_idx AS BIGINT), COALESCE(
               asname, CASE WHEN is_from THEN name ELSE split_part(name, '.', 1) END
           ), bstart, bend, COALESCE(CAST(scope_def_idx AS BIGINT), 0)
    FROM ast_imports WHERE NOT is_star
    UNION ALL
    SELECT file_id, CAST(node_idx AS BIGINT), name, COALESCE(name_bstart, bstart),
           COALESCE(name_bend, bend), COALESCE(CAST(parent_def_idx AS BIGINT), 0)
    FROM ast_defs WHERE kind <> 'lambda'
    UNION ALL
    SELECT file_id, CAST(node_idx AS BIGINT), target_text, bstart, bend,
           COALESCE(CAST(scope_def_idx AS BIGINT), 0)
    FROM ast_assignments WHERE kind = 'except'
) x
JOIN res_def_scope d ON d.file_id = x.file_id AND d.def_idx = x.def_idx
"""

_SYMBOL_OWNER = """
WITH enclosing AS (
    SELECT s.file_id, s.scope_idx, s.name, a.ancestor_idx,
           ROW_NUMBER() OVER (
               PARTITION BY s.file_id, s.scope_idx, s.name ORDER BY a.depth
           ) AS rn
    FROM sym_symbols s
    JOIN res_scope_ancestors a ON a.file_id = s.file_id AND a.scope_idx = s.scope_idx
    JOIN sym_scopes sc
      ON sc.file_id = a.file_id AND sc.scope_idx = a.ancestor_idx AND sc.scope_type = 'function'
    JOIN sym_symbols t
      ON t.file_id = a.file_id AND t.scope_idx = a.ancestor_idx AND t.name = s.name
    WHERE (s.is_free OR s.is_nonlocal) AND t.is_local
)
SELECT s.file_id, s.scope_idx, s.name, m.scope_idx AS module_scope,
       CASE
           WHEN s.is_free OR s.is_nonlocal THEN e.ancestor_idx
           WHEN s.scope_idx = m.scope_idx OR s.is_global OR s.is_declared_global
               THEN m.scope_idx
           WHEN s.is_local THEN s.scope_idx
       END AS owner_scope_idx,
       CASE
           WHEN s.is_free OR s.is_nonlocal THEN 'enclosing_scope'
           WHEN s.scope_idx = m.scope_idx THEN 'lexical_scope'
           WHEN s.is_global OR s.is_declared_global THEN 'global_scope'
           ELSE 'lexical_scope'
       END AS method
FROM sym_symbols s
JOIN res_module_scope m ON m.file_id = s.file_id
LEFT JOIN (SELECT * FROM enclosing WHERE rn = 1) e
  ON e.file_id = s.file_id AND e.scope_idx = s.scope_idx AND e.name = s.name
"""

_BINDINGS = """
SELECT b.file_id, b.node_idx, b.name, b.bstart, b.bend, o.owner_scope_idx, o.method,
       COUNT(*) OVER (PARTITION BY b.file_id, o.owner_scope_idx, b.name) AS n_sites
FROM res_bind_sites b
JOIN res_symbol_owner o
  ON o.file_id = b.file_id AND o.scope_idx = b.scope_idx AND o.name = b.name
WHERE o.owner_scope_idx IS NOT NULL
"""

_USES = """
WITH owned AS (
    SELECT u.file_id, u.node_idx, u.name, u.bstart, u.bend, m.scope_idx AS module_scope,
           CASE WHEN o.file_id IS NULL THEN m.scope_idx ELSE o.owner_scope_idx END
               AS owner_scope_idx,
           CASE WHEN o.file_id IS NULL THEN 'global_fallback' ELSE o.method END AS method,
           CASE WHEN o.file_id IS NULL THEN 0.5 ELSE 1.0 END AS base_confidence
    FROM res_name_scopes u
    JOIN res_module_scope m ON m.file_id = u.file_id
    LEFT JOIN res_symbol_owner o
      ON o.file_id = u.file_id AND o.scope_idx = u.scope_idx AND o.name = u.name
    WHERE u.ctx = 'load'
)
SELECT * FROM owned WHERE owner_scope_idx IS NOT NULL
"""

_USE_TARGETS = f"""
WITH builtin_names(name) AS (VALUES {_BUILTINS_VALUES}),
starred AS (
    SELECT DISTINCT file_id FROM ast_imports WHERE is_star AND scope_def_idx IS NULL
)
SELECT u.file_id, u.node_idx, u.name, u.bstart, u.bend,
       b.node_idx AS target_idx,
       CASE WHEN b.node_idx IS NULL THEN 'builtins' ELSE u.method END AS method,
       CASE
           WHEN b.node_idx IS NOT NULL THEN u.base_confidence / b.n_sites
           WHEN starred.file_id IS NOT NULL THEN 0.5
           ELSE u.base_confidence
       END AS confidence
FROM res_uses u
LEFT JOIN res_bindings b
  ON b.file_id = u.file_id AND b.owner_scope_idx = u.owner_scope_idx AND b.name = u.name
LEFT JOIN builtin_names bn ON bn.name = u.name
LEFT JOIN starred ON starred.file_id = u.file_id
WHERE b.node_idx IS NOT NULL
   OR (bn.name IS NOT NULL AND u.owner_scope_idx = u.module_scope)
"""

_EXTERNAL_ID = sql_stable_id("external", "qualname")
_EXTERNAL_NODES = f"""
SELECT {_EXTERNAL_ID} AS node_id, 'EXTERNAL' AS node_kind,
       CAST(NULL AS VARCHAR) AS file_id, CAST(NULL AS VARCHAR) AS path,
       CAST(NULL AS BIGINT) AS bstart, CAST(NULL AS BIGINT) AS bend,
       regexp_replace(qualname, '^.*\\.', '') AS name, qualname, {_ORIGIN} AS origin,
       n_uses AS p__n_uses
FROM cg_externals
"""

_USE_ID = _ast_id("u.file_id", "u.node_idx")
_BUILTIN_ID = sql_stable_id("external", "concat('builtins.', u.name)")
_TARGET_ID = (
    f"CASE WHEN u.target_idx IS NULL THEN {_BUILTIN_ID}"
    f" ELSE {_ast_id('u.file_id', 'u.target_idx')} END"
)
_REFERS_TO = f"""
SELECT {_edge_id("REFERS_TO", _USE_ID, _TARGET_ID)} AS edge_id, 'REFERS_TO' AS edge_kind,
       {_USE_ID} AS src_node_id, {_TARGET_ID} AS dst_node_id,
       u.file_id, f.path, u.bstart, u.bend, {_ORIGIN} AS origin,
       u.method AS resolution_method, u.confidence
FROM res_use_targets u
JOIN repo_files f ON f.file_id = u.file_id
"""

_BINDING_ID = _ast_id("b.file_id", "b.node_idx")
_SYMBOL_ID = sql_stable_id("symbol", "b.file_id", "b.owner_scope_idx", "b.name")
_BINDS = f"""
SELECT {_edge_id("BINDS", _BINDING_ID, _SYMBOL_ID)} AS edge_id, 'BINDS' AS edge_kind,
       {_BINDING_ID} AS src_node_id, {_SYMBOL_ID} AS dst_node_id,
       b.file_id, f.path, b.bstart, b.bend, {_ORIGIN} AS origin,
       b.method AS resolution_method, 1.0 AS confidence
FROM res_bindings b
JOIN sym_symbols s
  ON s.file_id = b.file_id AND s.scope_idx = b.owner_scope_idx AND s.name = b.name
JOIN repo_files f ON f.file_id = b.file_id
"""

_OWNER_ID = _ast_id("o.file_id", "o.node_idx")
_BLOCK_ID = sql_stable_id("block", "k.file_id", "k.code_idx", "k.block_idx")
_HAS_BLOCK = f"""
WITH RECURSIVE up(file_id, code_idx, ancestor_idx, depth) AS (
    SELECT file_id, code_idx, parent_code_idx AS ancestor_idx, CAST(1 AS BIGINT) AS depth
    FROM bc_code_objects WHERE parent_code_idx IS NOT NULL
    UNION ALL
    SELECT u.file_id, u.code_idx, c.parent_code_idx, u.depth + 1
    FROM up u JOIN bc_code_objects c ON c.file_id = u.file_id AND c.code_idx = u.ancestor_idx
    WHERE c.parent_code_idx IS NOT NULL
),
lineage AS (
    SELECT file_id, code_idx, code_idx AS ancestor_idx, CAST(0 AS BIGINT) AS depth
    FROM bc_code_objects
    UNION ALL
    SELECT file_id, code_idx, ancestor_idx, depth FROM up
),
direct AS (
    SELECT file_id, code_idx, CAST(0 AS BIGINT) AS node_idx
    FROM bc_code_objects WHERE span_source = 'module'
    UNION ALL
    SELECT c.file_id, c.code_idx, CAST(n.node_idx AS BIGINT)
    FROM bc_code_objects c
    JOIN ast_nodes n ON n.file_id = c.file_id AND n.bstart = c.bstart AND n.bend = c.bend
    WHERE c.span_source = 'ast' AND n.ast_type IN {_CODE_DEFS}
),
ranked AS (
    SELECT l.file_id, l.code_idx, direct.node_idx, l.depth,
           ROW_NUMBER() OVER (PARTITION BY l.file_id, l.code_idx ORDER BY l.depth) AS rn
    FROM lineage l JOIN direct ON direct.file_id = l.file_id AND direct.code_idx = l.ancestor_idx
)
SELECT {_edge_id("HAS_BLOCK", _OWNER_ID, _BLOCK_ID)} AS edge_id, 'HAS_BLOCK' AS edge_kind,
       {_OWNER_ID} AS src_node_id, {_BLOCK_ID} AS dst_node_id,
       k.file_id, f.path, k.bstart, k.bend, {_ORIGIN} AS origin,
       CASE WHEN o.depth = 0 THEN 'code_span' ELSE 'enclosing_code' END AS resolution_method,
       1.0 AS confidence
FROM bc_blocks k
JOIN ranked o ON o.file_id = k.file_id AND o.code_idx = k.code_idx AND o.rn = 1
JOIN repo_files f ON f.file_id = k.file_id
"""

RULES: tuple[SqlRuleSpec, ...] = (
    SqlRuleSpec("res_scope_ancestors", _SCOPE_ANCESTORS, "view", "every scope's proper ancestors"),
    SqlRuleSpec("res_module_scope", _MODULE_SCOPE, "view", "each file's module scope"),
    SqlRuleSpec("res_def_scope", _DEF_SCOPE, "view", "ast definition (0: module) → its scope"),
    SqlRuleSpec(
        "res_comp_scopes",
        _COMP_SCOPES,
        "view",
        "comprehension scopes with their owning scope and first-iterable span",
    ),
    SqlRuleSpec("res_name_scopes", _NAME_SCOPES, "view", "load/store names with their scope"),
    SqlRuleSpec("res_bind_sites", _BIND_SITES, "view", "binding occurrences with their scope"),
    SqlRuleSpec(
        "res_symbol_owner", _SYMBOL_OWNER, "view", "the scope owning each symbol's binding"
    ),
    SqlRuleSpec("res_bindings", _BINDINGS, "view", "binding sites per owning scope and name"),
    SqlRuleSpec("res_uses", _USES, "view", "uses with the scope owning their symbol"),
    SqlRuleSpec("res_use_targets", _USE_TARGETS, "view", "uses with their binding site or builtin"),
    SqlRuleSpec(
        "res_external_builtins",
        _EXTERNAL_NODES,
        "nodes",
        "EXTERNAL node per external name reached",
        props=("n_uses",),
    ),
    SqlRuleSpec("res_refers_to", _REFERS_TO, "edges", "use → its binding sites or builtin"),
    SqlRuleSpec("res_binds", _BINDS, "edges", "binding occurrence → the symbol it binds"),
    SqlRuleSpec("res_has_block", _HAS_BLOCK, "edges", "code owner → its bytecode blocks"),
)
