"""Cross-file resolution and the call graph: the whole rule set, in one place.

Every rule is SQL over evidence tables and the in-file resolution views
(``semantics/resolution.py``); nothing walks Python objects. The analysis is a
flow-insensitive, field-sensitive points-to analysis in the style of Andersen, on string
keys so that every relation is an ordinary table.

**Values** (what an expression may evaluate to): ``fn|file|idx`` (a function or lambda),
``cls|file|idx`` (a class), ``inst|file|idx`` (an instance of that class), ``mod|name`` (a
repository module), ``ext|dotted`` (something outside the repository: ``ext|json.dumps``,
``ext|builtins.len``), ``cont|file|idx`` (the list/tuple/set/dict a literal or
comprehension builds), ``gen|file|idx`` (the generator a generator function returns),
``bm|<fn value>|<self value>`` (a bound method) and ``sup|<cls value>|<self value>``
(``super()`` inside a method of that class).

**Locations** (what holds values): ``v|file|scope|name`` (a variable: the symbol of its
owning scope, from the symtable), ``x|file|idx`` (an expression), ``r|<fn>`` (a function's
return value), ``a|<value>|name`` (an attribute of a module, class or instance),
``e|<value>`` (the elements of a container or generator), ``imp|file|idx`` (what an import
alias imports), ``raw|<fn>`` and ``d|file|def|i`` (a decorated definition before and after
its ``i``-th decorator). A name read is a copy of its variable (``cg_copies``): the rules
read the variable's location where they name the expression, so the relation holds its
values once.

**Static facts** (one pass over the evidence, ``cg_flow_static`` and ``cg_seed_static``):

1. Modules: canonical names and import-root aliases (``semantics/modules.py``); a package
   has its submodules as attributes.
2. Imports: ``import a.b`` binds ``a`` to module ``a``; ``import a.b as c`` binds ``c`` to
   ``a.b``; ``from m import x`` binds ``x`` to submodule ``m.x`` if there is one, else to
   attribute ``x`` of module ``m``; relative imports resolve against the importing file's
   package; ``from m import *`` binds each name of ``m.__all__`` (else each public
   module-level name). A module outside the repository gives ``ext|m.x`` values.
3. Definitions: an undecorated def/class binds its value to its name; a lambda is its
   value; a decorated one flows through its decorators, innermost first, as calls (rule 8).
4. Flows: a variable's value to each use of a builtin's name (other uses are copies); an
   assignment's value to its name target, or
   to ``t|file|idx`` for a tuple/list target (rule 9 unpacks it); a default to its
   parameter; a returned value to ``r|fn``
   (except a returned parameter: rule 8 passes that argument straight through, per call
   site); a yielded value to the generator's elements; elements of literals and
   comprehensions to ``e|cont``; the branches of ``x if c else y``, ``a or b``,
   ``await x`` and walrus values to the expression; module-level variables to module
   attributes, class-body variables to class attributes; the default of ``getattr`` to
   its result.
5. Seeds: the first parameter of a method holds an instance of its class (a
   ``classmethod``'s holds the class, a ``staticmethod`` has none) when no class names
   that class as a base; otherwise the receivers come from calls; a generator function
   returns its generator; a use resolved to a builtin holds ``ext|builtins.<name>``; a
   starred unpacking target holds a list of its own (``cont|file|idx`` of the
   ``Starred``).

**Dynamic rules** (the steps of each fixpoint iteration, reading the current state
``cg_pts__state``):

6. Classes: base expressions give each class its bases; ``c3_mro`` (a UDF: C3
   linearisation over the class's ancestor edges) orders them; ``cg_lookup_<r>`` finds,
   per class and attribute, the first class in the MRO that binds it, else the first
   external base (``ext|base.attr``).
7. Attribute loads (``getattr(x, "name")`` is one, ``setattr(x, "name", v)`` a store,
   and ``getattr(x, "prefix" + y)`` loads every class attribute named with that prefix):
   on a module its attribute; on a class the looked-up attribute; on an
   instance its own attributes (from attribute stores) and the looked-up class attribute,
   functions bound to the instance (``staticmethod`` unbound, ``classmethod`` bound to
   the class); on ``super()`` the lookup after the class; on an external value the dotted
   extension; on a list, tuple, set or dict (a display, a comprehension, ``*args``,
   ``**kwargs``) its builtin type's method if the type has it (``builtins.list.append``;
   CALLS method ``builtin_method``). Attribute stores flow into the receiver's attribute.
   A property is a call: on an instance, loading a method decorated ``property`` or
   ``cached_property`` calls it (the load gets its return value) and storing to one with
   a ``.setter`` calls that with the stored value (``protocol``, method ``property``);
   ``x.setter`` on a getter is ``builtins.property.setter``, a decorator that returns
   what it decorates.
8. Calls (real calls and decorator applications): a function is called; a bound method
   calls its function with the receiver as first argument; a class creates an instance
   and calls ``__init__`` from the MRO (an external base's ``__init__`` when no class in
   the repository has one); an instance calls ``__call__``. Arguments flow to parameters
   by position (after the bound receiver) and keyword, returns to the call expression; a
   function that returns one of its parameters returns that call's argument. An external
   decorator returns what it decorates (``staticmethod``, ``functools.wraps``...).
   ``map``/``filter``/``iter`` call their first argument and ``sorted``/``min``/``max``
   their ``key``. Calling an external name whose last part is capitalised returns that
   name (an external class's instance: ``ext|textwrap.TextWrapper``). A raised
   expression that is not a call (``raise C``, ``raise E from C``) is a call site that
   only classes resolve: Python instantiates a raised class. A location that names a
   class holds its instances where Python gives it one (``cg_instance_of``): ``except
   T as e``, a parameter annotation, an annotated name and a return annotation, with
   ``A | B``, ``Optional[A]``, ``Union[A, B]``, tuples and one-identifier strings
   taken apart; only classes of the repository, as an external value already stands
   for its instances.
9. Containers: ``e|c`` holds every entry of container ``c``, ``k|c|key`` the entries of a
   constant key (display entries by index from both ends, dict entries by constant key,
   constant-subscript stores) and ``u|c`` the entries without one. A constant subscript
   reads ``k|c|key`` and ``u|c``; other subscripts, ``get``/``pop``/``setdefault`` read
   ``e|c``; subscript stores, ``append``/``add``/``insert``/``setdefault``, ``update``/
   ``extend`` write; a container whose entries may move (``insert``, ``pop``, ``sort``,
   ``del c[i]``...) copies ``e|c`` into ``u|c``. Slices, ``list``/``sorted``/... of a
   container, ``values()`` and ``copy()`` hold the container itself; ``get``/``pop``
   also return their default; ``super()`` looks up in the receiver's MRO after the
   class it appears in. ``for`` targets, comprehension targets and ``yield from``
   read the iterated value's elements; an unpacking target's element reads the entry of
   its constant index (from the back after a starred element) plus the unkeyed ones, a
   nested tuple target unpacks again, a starred element collects every element, and a
   generator gives every element to each. Iterating an instance calls ``__iter__`` and
   then the ``__next__`` of what it returns, or of the instance when ``__iter__`` returns
   ``self``; a ``with`` item holding an instance calls ``__enter__`` and ``__exit__``
   (``__aenter__``/``__aexit__`` for ``async with``) and the ``as`` target gets what
   ``__enter__`` returns (``protocol``); a manager value with no ``__enter__`` found
   (an external one, ``open()``) is itself the target's value.

**Fixpoint.** ``cg_pts`` starts as the closure (recursive ``UNION``) of the static facts.
Each iteration runs the dynamic rules on the current state and closes the result
semi-naively (only new facts propagate); a location holding more than
``SATURATION_LIMIT`` values is widened to ``top|sat`` and passes ``top|`` on (a call of
``top`` is UNRESOLVED), which bounds the growth; DataFusion runs every step, the executor
only repeats them (``SqlRuleSpec.steps``) until an iteration finds nothing new, at most
``MAX_ITERATIONS`` times. ``cg_fixpoint`` is a DIAGNOSTIC node (``fixpoint_not_reached``)
when facts were still new, so an unconverged result is never silent. The converged
relation feeds one last evaluation of the lookup and call rules (``cg_targets``,
``cg_protocol``) that the outputs read.

**Outputs.** ``CALLS`` (one edge per target of a call site; ``caller`` prop = the
enclosing FUNCTION or MODULE node, comprehensions transparent, class bodies counting for
their enclosing function/module; ``confidence`` = 1/targets, an implicit call counting
per method, so ``__enter__`` and ``__exit__`` of one ``with`` are each certain; a call
with no target gets an edge to an ``UNRESOLVED`` node named by the callee text,
confidence 0); ``IMPORTS``
(import alias → module, definition or EXTERNAL); ``INHERITS_FROM`` (class → base, prop
``index``); cross-file ``REFERS_TO`` (a name whose value is a definition of another file,
an attribute whose value is a definition or external name, a property read → its getter);
``EXTERNAL`` nodes for every
external name any of them reaches.

Known limits: flow-insensitive and context-insensitive (except parameters returned as
is); external code that reorders a list is not seen (``random.shuffle(xs); xs[0]()``);
attribute stores through unknown receivers and dynamic features (``getattr``/``setattr``
by a computed name, ``eval``, ``globals()``, ``type(name, bases, dict)``) are not
followed; a property read through a class or ``super()`` and a deleter are not
calls; star imports are followed one level; unpacking an instance (``a, b = obj``) does
not call its ``__iter__``; a ``with`` target may keep a manager whose ``__enter__`` is
found only in a later iteration (inherited from a base resolved later); other annotation
forms (``list[C]``, ``"mod.C"``, ``Self``) name no class;
unpacking a dict reads its values, not its keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from codeanatomy.plan.exprs import sql_stable_id
from codeanatomy.semantics.modules import MODULE_ALIASES_SQL, MODULE_NAMES_SQL
from codeanatomy.semantics.specs import SqlRuleSpec

MAX_ITERATIONS = 64
"""Bound on fixpoint iterations; ``cg_fixpoint`` reports a result that did not converge."""

SATURATION_LIMIT = 32
"""Values a location may hold before its set is widened to "unknown" (``top|sat``)."""

_SATURATED = "'top|sat'"
_TOP = "'top|'"

_ORIGIN = "'callgraph'"

# A str literal's repr (``ast_literals.value``) that is one identifier, and its text.
_IDENTIFIER_REPR = "regexp_like({v}, '^''[A-Za-z_][A-Za-z0-9_]*''$')"
_UNQUOTED = "substr({v}, 2, length({v}) - 2)"


def _key(prefix: str, *parts: str) -> str:
    joined = ", '|', ".join(f"CAST({part} AS VARCHAR)" for part in parts)
    return f"concat('{prefix}|', {joined})"


def _x(file_id: str, idx: str) -> str:
    return _key("x", file_id, idx)


def _v(file_id: str, scope: str, name: str) -> str:
    return _key("v", file_id, scope, name)


def _kind(value: str) -> str:
    return f"split_part({value}, '|', 1)"


def _flowing(value: str) -> str:
    """The value a location passes on: a saturated location passes "unknown"."""
    return f"CAST(CASE WHEN {value} = {_SATURATED} THEN {_TOP} ELSE {value} END AS VARCHAR)"


def _through_copies(sql: str, *columns: str) -> str:
    """``sql`` with its location ``columns`` read through ``cg_copies``.

    A site view names the expression it reads (``x|file|idx``); where that expression is
    a name, its values are its variable's, which the relation holds under the variable's
    key only. Mapping a location that is no copy leaves it as it is.
    """
    joins = "\n".join(
        f"LEFT JOIN cg_copies c{i} ON c{i}.loc = q.{column}" for i, column in enumerate(columns)
    )
    replaced = ", ".join(
        f"COALESCE(c{i}.rep, q.{column}) AS {column}" for i, column in enumerate(columns)
    )
    return f"SELECT q.* REPLACE ({replaced})\nFROM ({sql}) q\n{joins}"


def _copy_read(alias: str, key: str) -> tuple[str, str]:
    """The join and the location an output query reads for expression ``key``."""
    return (
        f"LEFT JOIN cg_copies {alias} ON {alias}.loc = {key}",
        f"COALESCE({alias}.rep, {key})",
    )


def _ast_id(file_id: str, idx: str) -> str:
    return sql_stable_id("ast", file_id, idx)


def _node_of_value(value: str, module_node: str = "CAST(NULL AS VARCHAR)") -> str:
    """CPG node id of a def, module or external value (SQL over a value column).

    ``module_node`` is the column holding the MODULE node of a ``mod|`` value, where the
    query has joined ``cg_modules``.
    """
    return f"""CASE {_kind(value)}
        WHEN 'ext' THEN {sql_stable_id("external", f"substr({value}, 5)")}
        WHEN 'mod' THEN {module_node}
        ELSE {_ast_id(f"split_part({value}, '|', 2)", f"split_part({value}, '|', 3)")}
    END"""


# An external value's attribute is a deeper dotted name; a loop like ``node = node.next``
# over an external value would extend it forever, so names stop at this depth.
_MAX_EXTERNAL_DOTS = 4

_COMPREHENSIONS = "('ListComp', 'SetComp', 'DictComp', 'GeneratorExp')"
# Each AST node that makes a container value, with the value's builtin type. A generator
# expression has none: its type has no name in ``builtins``.
_CONTAINER_TYPE_OF = {
    "List": "list",
    "ListComp": "list",
    "Tuple": "tuple",
    "Set": "set",
    "SetComp": "set",
    "Dict": "dict",
    "DictComp": "dict",
    "GeneratorExp": None,
}


def _sql_in(names: Iterable[str]) -> str:
    """The SQL list ``('a', 'b')`` of ``names``, for ``IN``."""
    return "(" + ", ".join(f"'{name}'" for name in names) + ")"


_CONTAINERS = _sql_in(_CONTAINER_TYPE_OF)
_TYPED_CONTAINERS = {a: t for a, t in _CONTAINER_TYPE_OF.items() if t is not None}

# -- modules and definitions ------------------------------------------------------------

_MODULES = f"""
SELECT n.file_id, n.path, n.module, n.is_package,
       CASE WHEN n.is_package THEN n.module
            ELSE regexp_replace(n.module, '\\.?[^.]+$', '') END AS package,
       {_ast_id("n.file_id", "0")} AS module_node
FROM ({MODULE_NAMES_SQL}) n
WHERE n.path LIKE '%.py'
"""

_MODULE_LOOKUP = f"""
SELECT module AS name, module FROM cg_modules
UNION
SELECT a.alias, m.module
FROM ({MODULE_ALIASES_SQL}) a
JOIN cg_modules m ON m.file_id = a.file_id
LEFT JOIN cg_modules c ON c.module = a.alias
WHERE c.module IS NULL AND a.alias <> ''
"""

# Decorators that make a method a property getter (reading the attribute calls it).
_GETTERS = "('property', 'cached_property', 'functools.cached_property')"

_DEFS = f"""
WITH deco AS (
    SELECT file_id, def_idx,
           bool_or(text = 'staticmethod') AS is_static,
           bool_or(text = 'classmethod') AS is_classmethod,
           bool_or(text IN {_GETTERS} OR text LIKE '%.getter') AS is_getter,
           bool_or(text LIKE '%.setter' OR text LIKE '%.deleter') AS is_setter
    FROM ast_decorators GROUP BY file_id, def_idx
)
SELECT d.file_id, CAST(d.node_idx AS BIGINT) AS node_idx, d.kind, d.name, d.is_method,
       CAST(d.parent_def_idx AS BIGINT) AS parent_def_idx, d.decorator_count, d.bstart, d.bend,
       COALESCE(k.is_static, false) AS is_static,
       COALESCE(k.is_classmethod, false) AS is_classmethod,
       CASE WHEN k.is_getter THEN 'get' WHEN k.is_setter THEN 'set' END AS accessor,
       s.scope_idx,
       concat(CASE WHEN d.kind = 'class' THEN 'cls' ELSE 'fn' END, '|', d.file_id, '|',
              CAST(d.node_idx AS VARCHAR)) AS val
FROM ast_defs d
JOIN res_def_scope s ON s.file_id = d.file_id AND s.def_idx = d.node_idx
LEFT JOIN deco k ON k.file_id = d.file_id AND k.def_idx = d.node_idx
"""

# The definition a call counts for: itself unless a class (then its enclosing
# non-class definition, or the module when there is none).
_OWNER = """
SELECT d.file_id, d.node_idx AS def_idx,
       CASE WHEN d.kind <> 'class' THEN d.node_idx
            WHEN p.kind IS NOT NULL AND p.kind <> 'class' THEN p.node_idx
       END AS owner_idx
FROM cg_defs d
LEFT JOIN cg_defs p ON p.file_id = d.file_id AND p.node_idx = d.parent_def_idx
"""

_VARS = """
SELECT DISTINCT file_id, node_idx, name, owner_scope_idx,
       n_sites
FROM res_bindings
"""

_PARAMS = f"""
SELECT d.val AS fn, p.index, p.name, p.kind,
       {_v("b.file_id", "b.owner_scope_idx", "b.name")} AS var,
       CASE WHEN p.kind IN ('vararg', 'kwarg')
            THEN concat('cont|', p.file_id, '|', CAST(p.node_idx AS VARCHAR)) END AS pack
FROM ast_params p
JOIN cg_defs d ON d.file_id = p.file_id AND d.node_idx = p.def_idx
JOIN res_bindings b ON b.file_id = p.file_id AND b.node_idx = p.node_idx
"""

# A function that returns one of its parameters unchanged (the name has no other binding).
_PARAM_RETURNS = """
SELECT DISTINCT p.fn, p.index, p.name, r.file_id, r.value_idx
FROM ast_returns r
JOIN ast_names n ON n.file_id = r.file_id AND n.node_idx = r.value_idx
JOIN res_use_targets u ON u.file_id = n.file_id AND u.node_idx = n.node_idx
JOIN ast_params q ON q.file_id = u.file_id AND q.node_idx = u.target_idx
JOIN cg_params p ON p.fn = concat('fn|', q.file_id, '|', CAST(q.def_idx AS VARCHAR))
    AND p.index = q.index
WHERE r.kind = 'return' AND u.confidence = 1.0 AND q.def_idx = r.def_idx
"""

# -- imports ------------------------------------------------------------------------------

_IMPORTS = """
WITH base AS (
    SELECT i.file_id, CAST(i.node_idx AS BIGINT) AS node_idx, i.is_from, i.module, i.name,
           i.asname, i.level, i.is_star,
           CASE WHEN i.level = 0 THEN NULL
                ELSE array_to_string(array_slice(string_to_array(m.package, '.'), 1,
                         CAST(cardinality(string_to_array(m.package, '.')) AS BIGINT)
                         - (i.level - 1)), '.')
           END AS anchor
    FROM ast_imports i JOIN cg_modules m ON m.file_id = i.file_id
),
named AS (
    SELECT *,
           CASE WHEN NOT is_from THEN name
                WHEN level = 0 THEN module
                WHEN module IS NULL THEN anchor
                WHEN anchor = '' THEN module
                ELSE concat(anchor, '.', module) END AS source
    FROM base
)
SELECT n.file_id, n.node_idx, n.is_from, n.is_star, n.name, n.asname, n.source,
       src.module AS source_module,
       CASE WHEN n.is_from THEN concat(n.source, '.', n.name) END AS member,
       sub.module AS member_module,
       tm.module AS top_module,
       split_part(n.source, '.', 1) AS top_name
FROM named n
LEFT JOIN cg_module_lookup src ON src.name = n.source
LEFT JOIN cg_module_lookup sub
  ON n.is_from AND sub.name = CASE WHEN n.source = '' THEN n.name
                                   ELSE concat(n.source, '.', n.name) END
LEFT JOIN cg_module_lookup tm ON tm.name = split_part(n.source, '.', 1)
"""

# What each import alias imports (the IMPORT node's own location) and the star exports.
_IMPORT_SEEDS = """
SELECT concat('imp|', file_id, '|', CAST(node_idx AS VARCHAR)) AS loc,
       CASE
           WHEN NOT is_from AND asname IS NULL THEN
               CASE WHEN top_module IS NOT NULL THEN concat('mod|', top_module)
                    ELSE concat('ext|', top_name) END
           WHEN NOT is_from THEN
               CASE WHEN source_module IS NOT NULL THEN concat('mod|', source_module)
                    ELSE concat('ext|', source) END
           WHEN member_module IS NOT NULL THEN concat('mod|', member_module)
           WHEN source_module IS NULL THEN concat('ext|', member)
       END AS val
FROM cg_imports WHERE NOT is_star
"""

_STAR_NAMES = """
WITH exported AS (
    SELECT m.module, a.name FROM ast_all a JOIN cg_modules m ON m.file_id = a.file_id
    UNION
    SELECT m.module, b.name
    FROM res_bindings b
    JOIN res_module_scope s ON s.file_id = b.file_id AND s.scope_idx = b.owner_scope_idx
    JOIN cg_modules m ON m.file_id = b.file_id
    LEFT JOIN (SELECT DISTINCT file_id FROM ast_all) has_all ON has_all.file_id = b.file_id
    WHERE has_all.file_id IS NULL AND b.name NOT LIKE '\\_%' ESCAPE '\\'
)
SELECT i.file_id, s.scope_idx, i.source_module, e.name
FROM cg_imports i
JOIN exported e ON e.module = i.source_module
JOIN res_module_scope s ON s.file_id = i.file_id
WHERE i.is_star
"""

# -- static flows and seeds ---------------------------------------------------------------

# A name read holds exactly what its variable holds: Python gives a load of a name nothing
# else, and no rule writes into a name's expression. Its location is collapsed into the
# variable's (``x|`` → ``v|``): on the stdlib these are 206 k of the ~620 k flows and
# more than half of the relation's facts, which every step of every fixpoint iteration
# would otherwise scan. A builtin's use is no copy: it also holds the builtin.
_COPIES = f"""
SELECT {_x("u.file_id", "u.node_idx")} AS loc,
       {_v("u.file_id", "u.owner_scope_idx", "u.name")} AS rep
FROM res_uses u
LEFT JOIN (SELECT DISTINCT file_id, node_idx FROM res_use_targets WHERE target_idx IS NULL) b
  ON b.file_id = u.file_id AND b.node_idx = u.node_idx
WHERE b.node_idx IS NULL
"""

_FLOW_STATIC = _through_copies(
    f"""
SELECT {_v("u.file_id", "u.owner_scope_idx", "u.name")} AS src,
       {_x("u.file_id", "u.node_idx")} AS dst
FROM res_uses u
JOIN (SELECT DISTINCT file_id, node_idx FROM res_use_targets WHERE target_idx IS NULL) b
  ON b.file_id = u.file_id AND b.node_idx = u.node_idx
UNION ALL
SELECT {_x("a.file_id", "a.value_idx")}, {_v("b.file_id", "b.owner_scope_idx", "b.name")}
FROM ast_assignments a
JOIN res_bindings b ON b.file_id = a.file_id AND b.node_idx = a.target_idx
WHERE a.target_shape = 'name' AND a.element_index IS NULL AND a.value_idx IS NOT NULL
  AND a.kind IN ('assign', 'annassign', 'namedexpr')
UNION ALL
SELECT {_x("file_id", "value_idx")}, concat('t|', file_id, '|', CAST(target_idx AS VARCHAR))
FROM ast_assignments
WHERE target_shape IN ('tuple', 'list') AND element_index IS NULL AND value_idx IS NOT NULL
  AND kind = 'assign'
UNION ALL
SELECT value, result FROM cg_reflective WHERE fn = 'getattr' AND value IS NOT NULL
UNION ALL
SELECT {_x("p.file_id", "p.default_idx")}, {_v("b.file_id", "b.owner_scope_idx", "b.name")}
FROM ast_params p
JOIN res_bindings b ON b.file_id = p.file_id AND b.node_idx = p.node_idx
WHERE p.default_idx IS NOT NULL
UNION ALL
SELECT {_x("r.file_id", "r.value_idx")}, concat('r|fn|', r.file_id, '|', CAST(r.def_idx AS VARCHAR))
FROM ast_returns r
LEFT JOIN cg_param_returns pr ON pr.file_id = r.file_id AND pr.value_idx = r.value_idx
WHERE r.kind = 'return' AND r.value_idx IS NOT NULL AND r.def_idx IS NOT NULL
  AND pr.fn IS NULL
UNION ALL
SELECT {_x("r.file_id", "r.value_idx")},
       concat('e|gen|', r.file_id, '|', CAST(r.def_idx AS VARCHAR))
FROM ast_returns r
WHERE r.kind = 'yield' AND r.value_idx IS NOT NULL AND r.def_idx IS NOT NULL
UNION ALL
SELECT {_x("c.file_id", "c.node_idx")},
       concat('e|cont|', c.file_id, '|', CAST(p.node_idx AS VARCHAR))
FROM ast_nodes p
JOIN ast_nodes c ON c.file_id = p.file_id AND c.parent_idx = p.node_idx
WHERE (p.ast_type IN ('List', 'Tuple', 'Set') AND c.field = 'elts')
   OR (p.ast_type = 'Dict' AND c.field = 'values')
   OR (p.ast_type IN ('ListComp', 'SetComp', 'GeneratorExp') AND c.field = 'elt')
   OR (p.ast_type = 'DictComp' AND c.field = 'value')
UNION ALL
SELECT src, dst FROM cg_keyed_entries
UNION ALL
SELECT {_x("c.file_id", "c.node_idx")}, {_x("p.file_id", "p.node_idx")}
FROM ast_nodes p
JOIN ast_nodes c ON c.file_id = p.file_id AND c.parent_idx = p.node_idx
WHERE (p.ast_type = 'IfExp' AND c.field IN ('body', 'orelse'))
   OR (p.ast_type = 'BoolOp' AND c.field = 'values')
   OR (p.ast_type IN ('NamedExpr', 'Await') AND c.field = 'value')
UNION ALL
SELECT {_v("b.file_id", "b.owner_scope_idx", "b.name")},
       concat('a|mod|', m.module, '|', b.name)
FROM (SELECT DISTINCT file_id, owner_scope_idx, name FROM res_bindings) b
JOIN res_module_scope s ON s.file_id = b.file_id AND s.scope_idx = b.owner_scope_idx
JOIN cg_modules m ON m.file_id = b.file_id
UNION ALL
SELECT {_v("b.file_id", "b.owner_scope_idx", "b.name")}, concat('a|', d.val, '|', b.name)
FROM (SELECT DISTINCT file_id, owner_scope_idx, name FROM res_bindings) b
JOIN cg_defs d ON d.file_id = b.file_id AND d.scope_idx = b.owner_scope_idx AND d.kind = 'class'
UNION ALL
SELECT concat('imp|', i.file_id, '|', CAST(i.node_idx AS VARCHAR)),
       {_v("b.file_id", "b.owner_scope_idx", "b.name")}
FROM cg_imports i
JOIN res_bindings b ON b.file_id = i.file_id AND b.node_idx = i.node_idx
UNION ALL
SELECT concat('a|mod|', i.source_module, '|', i.name),
       concat('imp|', i.file_id, '|', CAST(i.node_idx AS VARCHAR))
FROM cg_imports i
WHERE i.is_from AND NOT i.is_star AND i.member_module IS NULL AND i.source_module IS NOT NULL
UNION ALL
SELECT concat('a|mod|', s.source_module, '|', s.name), {_v("s.file_id", "s.scope_idx", "s.name")}
FROM cg_star_names s
UNION ALL
SELECT {_v("s.file_id", "s.scope_idx", "s.name")}, concat('a|mod|', m.module, '|', s.name)
FROM cg_star_names s JOIN cg_modules m ON m.file_id = s.file_id
UNION ALL
SELECT concat('d|', d.file_id, '|', CAST(d.node_idx AS VARCHAR), '|0'),
       {_v("b.file_id", "b.owner_scope_idx", "b.name")}
FROM cg_defs d
JOIN res_bindings b ON b.file_id = d.file_id AND b.node_idx = d.node_idx
WHERE d.decorator_count > 0
""",
    "src",
)

_SEED_STATIC = f"""
SELECT {_v("b.file_id", "b.owner_scope_idx", "b.name")} AS loc,
       concat('cont|', a.file_id, '|', CAST(a.target_idx AS VARCHAR)) AS val
FROM ast_assignments a
JOIN ast_nodes n ON n.file_id = a.file_id AND n.parent_idx = a.target_idx AND n.field = 'value'
JOIN res_bindings b ON b.file_id = n.file_id AND b.node_idx = n.node_idx
WHERE a.target_shape = 'starred'
UNION ALL
SELECT {_v("b.file_id", "b.owner_scope_idx", "b.name")}, d.val
FROM cg_defs d
JOIN res_bindings b ON b.file_id = d.file_id AND b.node_idx = d.node_idx
WHERE d.decorator_count = 0 AND d.kind <> 'lambda'
UNION ALL
SELECT {_x("file_id", "node_idx")}, val FROM cg_defs WHERE kind = 'lambda'
UNION ALL
SELECT concat('raw|', val), val FROM cg_defs WHERE decorator_count > 0
UNION ALL
SELECT {_x("file_id", "node_idx")}, concat('cont|', file_id, '|', CAST(node_idx AS VARCHAR))
FROM ast_nodes WHERE ast_type IN {_CONTAINERS}
UNION ALL
SELECT loc, val FROM cg_import_seeds WHERE val IS NOT NULL
UNION ALL
SELECT concat('a|mod|', p.module, '|', regexp_replace(c.module, '^.*\\.', '')),
       concat('mod|', c.module)
FROM cg_modules c
JOIN cg_modules p ON p.is_package AND p.module = regexp_replace(c.module, '\\.[^.]+$', '')
WHERE c.module LIKE '%.%'
UNION ALL
SELECT p.var, CASE WHEN f.is_classmethod THEN c.val ELSE concat('inst', substr(c.val, 4)) END
FROM cg_params p
JOIN cg_defs f ON f.val = p.fn
JOIN cg_defs c ON c.file_id = f.file_id AND c.node_idx = f.parent_def_idx AND c.kind = 'class'
WHERE p.index = 0 AND f.is_method AND NOT f.is_static
  AND c.name NOT IN (SELECT name FROM ast_nodes WHERE field = 'bases' AND name IS NOT NULL)
UNION ALL
SELECT DISTINCT concat('r|fn|', file_id, '|', CAST(def_idx AS VARCHAR)),
       concat('gen|', file_id, '|', CAST(def_idx AS VARCHAR))
FROM ast_returns WHERE kind IN ('yield', 'yield_from') AND def_idx IS NOT NULL
UNION ALL
SELECT {_x("file_id", "node_idx")}, concat('ext|builtins.', name)
FROM res_use_targets WHERE target_idx IS NULL
UNION ALL
SELECT var, pack FROM cg_params WHERE pack IS NOT NULL
"""

# -- sites the dynamic rules read -------------------------------------------------------

# A decorator site is named by its text; a factory's arguments (often many lines) are
# left out, so an UNRESOLVED node reads ``app.route(...)``, one line.
_DECORATOR_TEXT = r"regexp_replace(k.text, '(?s)\(.*$', '(...)')"

_CALL_SITES = _through_copies(
    f"""
SELECT {_x("c.file_id", "c.node_idx")} AS call_key, c.file_id,
       CAST(c.node_idx AS BIGINT) AS site_idx,
       CAST(c.scope_def_idx AS BIGINT) AS scope_def_idx, {_x("c.file_id", "c.func_idx")} AS callee,
       {_x("c.file_id", "c.node_idx")} AS result, c.callee_shape,
       COALESCE(c.callee_text, concat('<', c.callee_shape, '>')) AS callee_text,
       a.attr, {_x("a.file_id", "a.value_idx")} AS receiver, 'call' AS site_kind,
       c.bstart, c.bend
FROM ast_calls c
LEFT JOIN ast_attributes a ON a.file_id = c.file_id AND a.node_idx = c.func_idx
UNION ALL
SELECT concat('d|', k.file_id, '|', CAST(k.def_idx AS VARCHAR), '|', CAST(k.index AS VARCHAR)),
       k.file_id, CAST(k.node_idx AS BIGINT), d.parent_def_idx, {_x("k.file_id", "k.node_idx")},
       concat('d|', k.file_id, '|', CAST(k.def_idx AS VARCHAR), '|', CAST(k.index AS VARCHAR)),
       'decorator', {_DECORATOR_TEXT}, CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), 'decorator',
       k.bstart, k.bend
FROM ast_decorators k JOIN cg_defs d ON d.file_id = k.file_id AND d.node_idx = k.def_idx
UNION ALL
SELECT {_x("e.file_id", "e.node_idx")}, e.file_id, CAST(e.node_idx AS BIGINT),
       CAST(COALESCE(n.scope_def_idx, a.scope_def_idx) AS BIGINT), {_x("e.file_id", "e.node_idx")},
       concat('raise|', e.file_id, '|', CAST(e.node_idx AS VARCHAR)), lower(e.ast_type),
       COALESCE(n.name, concat(a.value_text, '.', a.attr), '<attribute>'), CAST(NULL AS VARCHAR),
       CAST(NULL AS VARCHAR), 'raise', e.bstart, e.bend
FROM ast_nodes r
JOIN ast_nodes e ON e.file_id = r.file_id AND e.parent_idx = r.node_idx
    AND e.field IN ('exc', 'cause') AND e.ast_type IN ('Name', 'Attribute')
LEFT JOIN ast_names n ON n.file_id = e.file_id AND n.node_idx = e.node_idx
LEFT JOIN ast_attributes a ON a.file_id = e.file_id AND a.node_idx = e.node_idx
WHERE r.ast_type = 'Raise'
""",
    "callee",
    "receiver",
)

# ``with`` items: the context manager's location, the ``as`` variable (if a name) and one
# row per method the statement calls on it.
_WITH_ITEMS = _through_copies(
    f"""
WITH exprs AS (
    SELECT file_id, node_idx, scope_def_idx FROM ast_names
    UNION ALL
    SELECT file_id, node_idx, scope_def_idx FROM ast_attributes
    UNION ALL
    SELECT file_id, node_idx, scope_def_idx FROM ast_calls
)
SELECT c.file_id, CAST(c.node_idx AS BIGINT) AS site_idx,
       CAST(x.scope_def_idx AS BIGINT) AS scope_def_idx, c.bstart, c.bend,
       {_x("c.file_id", "c.node_idx")} AS loc,
       CASE WHEN b.name IS NOT NULL THEN {_v("b.file_id", "b.owner_scope_idx", "b.name")}
            WHEN o.ast_type IN ('Tuple', 'List')
                THEN concat('t|', o.file_id, '|', CAST(o.node_idx AS VARCHAR))
       END AS target,
       m.method
FROM ast_nodes w
JOIN ast_nodes i ON i.file_id = w.file_id AND i.parent_idx = w.node_idx AND i.field = 'items'
JOIN ast_nodes c ON c.file_id = i.file_id AND c.parent_idx = i.node_idx
    AND c.field = 'context_expr'
JOIN exprs x ON x.file_id = c.file_id AND x.node_idx = c.node_idx
LEFT JOIN ast_nodes o ON o.file_id = i.file_id AND o.parent_idx = i.node_idx
    AND o.field = 'optional_vars'
LEFT JOIN res_bindings b ON b.file_id = o.file_id AND b.node_idx = o.node_idx
JOIN (VALUES ('With', '__enter__'), ('With', '__exit__'), ('AsyncWith', '__aenter__'),
             ('AsyncWith', '__aexit__')) AS m(statement, method) ON m.statement = w.ast_type
WHERE w.ast_type IN ('With', 'AsyncWith')
""",
    "loc",
)

# The parts of a type expression that each name a possible type: the operands of
# ``A | B``, the elements of a tuple, the subscript of ``Optional[...]``/``Union[...]``.
# A view of its own: the recursive query in ``_INSTANCE_OF`` reads it at every step.
_TYPE_ALTERNATIVES = """
SELECT n.file_id, CAST(n.node_idx AS BIGINT) AS parent_idx, CAST(c.node_idx AS BIGINT) AS node_idx
FROM ast_nodes n
JOIN ast_nodes c ON c.file_id = n.file_id AND c.parent_idx = n.node_idx
LEFT JOIN ast_nodes t ON t.file_id = n.file_id AND t.parent_idx = n.node_idx
    AND t.field = 'value' AND t.name IN ('Optional', 'Union')
WHERE (n.ast_type = 'BinOp' AND n.op = 'BitOr' AND c.field IN ('left', 'right'))
   OR (n.ast_type = 'Tuple' AND c.field = 'elts')
   OR (n.ast_type = 'Subscript' AND c.field = 'slice' AND t.node_idx IS NOT NULL)
"""

# Locations that hold an instance of each class another location holds: ``except T as e``
# and annotations naming a class (parameters, annotated names, return values). The type
# expression is taken apart where Python's typing means "one of": ``A | B``,
# ``Optional[A]``, ``Union[A, B]``, a tuple of exception classes; a string annotation that
# is one identifier names the module-level variable. Only classes of the repository: an
# external value already stands for its instances.
_INSTANCE_OF = _through_copies(
    f"""
WITH RECURSIVE roots AS (
    SELECT a.file_id, CAST(a.value_idx AS BIGINT) AS node_idx,
           {_v("b.file_id", "b.owner_scope_idx", "b.name")} AS dst
    FROM ast_assignments a
    JOIN res_bindings b ON b.file_id = a.file_id AND b.node_idx = a.target_idx
    WHERE a.kind = 'except'
    UNION ALL
    SELECT p.file_id, CAST(p.annotation_idx AS BIGINT), q.var
    FROM ast_params p
    JOIN cg_params q ON q.fn = concat('fn|', p.file_id, '|', CAST(p.def_idx AS VARCHAR))
        AND q.index = p.index
    WHERE p.annotation_idx IS NOT NULL AND p.kind NOT IN ('vararg', 'kwarg')
    UNION ALL
    SELECT a.file_id, CAST(a.node_idx AS BIGINT),
           {_v("b.file_id", "b.owner_scope_idx", "b.name")}
    FROM ast_annotations a
    JOIN res_bindings b ON b.file_id = a.file_id AND b.node_idx = a.target_idx
    WHERE a.target_kind = 'assign'
    UNION ALL
    SELECT file_id, CAST(node_idx AS BIGINT),
           concat('r|fn|', file_id, '|', CAST(target_idx AS VARCHAR))
    FROM ast_annotations WHERE target_kind = 'return'
),
parts(file_id, node_idx, dst) AS (
    SELECT file_id, node_idx, dst FROM roots
    UNION ALL
    SELECT c.file_id, c.node_idx, p.dst
    FROM parts p
    JOIN cg_type_alternatives c ON c.file_id = p.file_id AND c.parent_idx = p.node_idx
)
SELECT {_x("file_id", "node_idx")} AS src, dst FROM parts
UNION ALL
SELECT {_v("p.file_id", "s.scope_idx", _UNQUOTED.format(v="l.value"))}, p.dst
FROM parts p
JOIN ast_literals l ON l.file_id = p.file_id AND l.node_idx = p.node_idx
JOIN res_module_scope s ON s.file_id = p.file_id
WHERE l.literal_type = 'str' AND {_IDENTIFIER_REPR.format(v="l.value")}
""",
    "src",
)

_CALL_ARGS = _through_copies(
    f"""
SELECT {_x("file_id", "call_idx")} AS call_key, position, keyword,
       {_x("file_id", "node_idx")} AS loc
FROM ast_call_args WHERE NOT is_starred AND NOT is_double_star
UNION ALL
SELECT concat('d|', k.file_id, '|', CAST(k.def_idx AS VARCHAR), '|', CAST(k.index AS VARCHAR)),
       0, CAST(NULL AS VARCHAR),
       CASE WHEN k.index = d.decorator_count - 1 THEN concat('raw|', d.val)
            ELSE concat('d|', k.file_id, '|', CAST(k.def_idx AS VARCHAR), '|',
                        CAST(k.index + 1 AS VARCHAR)) END
FROM ast_decorators k JOIN cg_defs d ON d.file_id = k.file_id AND d.node_idx = k.def_idx
""",
    "loc",
)

# ``f(*xs)`` and ``f(**d)``: the unpacked expression and the position of the star.
_UNPACKED_ARGS = _through_copies(
    f"""
SELECT {_x("a.file_id", "a.call_idx")} AS call_key, a.position, a.is_double_star,
       {_x("a.file_id", "COALESCE(v.node_idx, a.node_idx)")} AS loc
FROM ast_call_args a
LEFT JOIN ast_nodes v ON v.file_id = a.file_id AND v.parent_idx = a.node_idx
    AND v.field = 'value' AND a.is_starred
WHERE a.is_starred OR a.is_double_star
""",
    "loc",
)

# ``@factory(...)``: the decorator is a call's result; where the factory is external it is
# taken to return what it decorates, as an external decorator is.
_DECORATOR_FACTORIES = _through_copies(
    f"""
SELECT concat('d|', k.file_id, '|', CAST(k.def_idx AS VARCHAR), '|', CAST(k.index AS VARCHAR))
           AS call_key,
       {_x("c.file_id", "c.func_idx")} AS factory
FROM ast_decorators k JOIN ast_calls c ON c.file_id = k.file_id AND c.node_idx = k.node_idx
""",
    "factory",
)

# The builtins ``getattr``/``setattr`` with a constant name are attribute loads and
# stores; ``getattr(obj, "prefix" + x)`` loads every class attribute of the repository
# whose name has that prefix (dispatch tables such as ``cmd.Cmd``'s ``do_*``).
_REFLECTIVE = _through_copies(
    f"""
WITH calls AS (
    SELECT c.file_id, c.node_idx, u.name AS fn
    FROM ast_calls c
    JOIN res_use_targets u ON u.file_id = c.file_id AND u.node_idx = c.func_idx
    WHERE u.target_idx IS NULL AND u.name IN ('getattr', 'setattr')
),
args AS (
    SELECT k.file_id, k.node_idx AS call_idx, k.fn, a.position, a.node_idx
    FROM calls k
    JOIN ast_call_args a ON a.file_id = k.file_id AND a.call_idx = k.node_idx
    WHERE a.position IS NOT NULL AND NOT a.is_starred
),
exact AS (
    SELECT a.file_id, a.call_idx, a.fn, {_UNQUOTED.format(v="l.value")} AS attr
    FROM args a
    JOIN ast_literals l ON l.file_id = a.file_id AND l.node_idx = a.node_idx
    WHERE a.position = 1 AND l.literal_type = 'str'
      AND {_IDENTIFIER_REPR.format(v="l.value")}
),
prefixed AS (
    SELECT a.file_id, a.call_idx, a.fn, {_UNQUOTED.format(v="l.value")} AS prefix
    FROM args a
    JOIN ast_nodes b ON b.file_id = a.file_id AND b.node_idx = a.node_idx
    JOIN ast_nodes h ON h.file_id = b.file_id AND h.parent_idx = b.node_idx AND h.field = 'left'
    JOIN ast_literals l ON l.file_id = h.file_id AND l.node_idx = h.node_idx
    WHERE a.position = 1 AND a.fn = 'getattr' AND b.ast_type = 'BinOp' AND b.op = 'Add'
      AND l.literal_type = 'str' AND {_IDENTIFIER_REPR.format(v="l.value")}
),
expanded AS (
    SELECT file_id, call_idx, fn, attr FROM exact
    UNION ALL
    SELECT a.file_id, a.call_idx, a.fn, k.name
    FROM prefixed a JOIN (SELECT DISTINCT name FROM cg_class_names) k
      ON starts_with(k.name, a.prefix)
)
SELECT e.fn, {_x("r.file_id", "r.node_idx")} AS recv, e.attr,
       {_x("e.file_id", "e.call_idx")} AS result,
       {_x("v.file_id", "v.node_idx")} AS value,
       e.file_id, CAST(e.call_idx AS BIGINT) AS site_idx,
       CAST(c.scope_def_idx AS BIGINT) AS scope_def_idx, c.bstart, c.bend
FROM expanded e
JOIN ast_calls c ON c.file_id = e.file_id AND c.node_idx = e.call_idx
JOIN args r ON r.file_id = e.file_id AND r.call_idx = e.call_idx AND r.position = 0
LEFT JOIN args v ON v.file_id = e.file_id AND v.call_idx = e.call_idx AND v.position = 2
""",
    "recv",
    "value",
)

_ATTR_LOADS = _through_copies(
    f"""
SELECT {_x("file_id", "node_idx")} AS dst, {_x("file_id", "value_idx")} AS recv, attr,
       file_id, CAST(node_idx AS BIGINT) AS site_idx, CAST(scope_def_idx AS BIGINT)
           AS scope_def_idx, bstart, bend
FROM ast_attributes WHERE ctx = 'load'
UNION ALL
SELECT result, recv, attr, file_id, site_idx, scope_def_idx, bstart, bend
FROM cg_reflective WHERE fn = 'getattr'
""",
    "recv",
)

_ATTR_STORES = _through_copies(
    f"""
SELECT {_x("a.file_id", "a.value_idx")} AS src, {_x("t.file_id", "t.value_idx")} AS recv, t.attr,
       t.file_id, CAST(t.node_idx AS BIGINT) AS site_idx,
       CAST(t.scope_def_idx AS BIGINT) AS scope_def_idx, t.bstart, t.bend
FROM ast_assignments a
JOIN ast_attributes t ON t.file_id = a.file_id AND t.node_idx = a.target_idx
WHERE a.target_shape = 'attribute' AND a.element_index IS NULL AND a.value_idx IS NOT NULL
  AND a.kind IN ('assign', 'annassign')
UNION ALL
SELECT value, recv, attr, file_id, site_idx, scope_def_idx, bstart, bend
FROM cg_reflective WHERE fn = 'setattr' AND value IS NOT NULL
""",
    "src",
    "recv",
)

# Constant subscript keys: int and str literals, and negated ints (``xs[-1]``).
_CONST_KEYS = """
SELECT file_id, node_idx, value AS key FROM ast_literals WHERE literal_type IN ('int', 'str')
UNION ALL
SELECT u.file_id, u.node_idx, concat('-', l.value)
FROM ast_nodes u
JOIN ast_nodes c ON c.file_id = u.file_id AND c.parent_idx = u.node_idx
JOIN ast_literals l ON l.file_id = c.file_id AND l.node_idx = c.node_idx
WHERE u.ast_type = 'UnaryOp' AND u.op = 'USub' AND l.literal_type = 'int'
"""

# Entries of list/tuple/dict displays by constant key (a list or tuple entry under its
# index counted from both ends); entries without one go to the unkeyed ``u|`` location.
_KEYED_ENTRIES = f"""
WITH shape AS (
    SELECT file_id, parent_idx, COUNT(*) AS n, bool_or(ast_type = 'Starred') AS starred
    FROM ast_nodes WHERE field = 'elts' GROUP BY file_id, parent_idx
),
entries AS (
    SELECT c.file_id, c.node_idx, p.node_idx AS cont_idx,
           CASE WHEN NOT g.starred THEN CAST(c.child_index AS VARCHAR) END AS key,
           CASE WHEN NOT g.starred THEN CAST(c.child_index - g.n AS VARCHAR) END AS back_key
    FROM ast_nodes p
    JOIN ast_nodes c ON c.file_id = p.file_id AND c.parent_idx = p.node_idx AND c.field = 'elts'
    JOIN shape g ON g.file_id = p.file_id AND g.parent_idx = p.node_idx
    WHERE p.ast_type IN ('List', 'Tuple')
    UNION ALL
    SELECT v.file_id, v.node_idx, p.node_idx, k.key, CAST(NULL AS VARCHAR)
    FROM ast_nodes p
    JOIN ast_nodes v ON v.file_id = p.file_id AND v.parent_idx = p.node_idx AND v.field = 'values'
    LEFT JOIN ast_nodes kn ON kn.file_id = p.file_id AND kn.parent_idx = p.node_idx
        AND kn.field = 'keys' AND kn.child_index = v.child_index
    LEFT JOIN cg_const_keys k ON k.file_id = kn.file_id AND k.node_idx = kn.node_idx
    WHERE p.ast_type = 'Dict'
    UNION ALL
    SELECT c.file_id, c.node_idx, p.node_idx, CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR)
    FROM ast_nodes p
    JOIN ast_nodes c ON c.file_id = p.file_id AND c.parent_idx = p.node_idx
    WHERE (p.ast_type = 'Set' AND c.field = 'elts')
       OR (p.ast_type IN ('ListComp', 'SetComp', 'GeneratorExp') AND c.field = 'elt')
       OR (p.ast_type = 'DictComp' AND c.field = 'value')
)
SELECT {_x("file_id", "node_idx")} AS src,
       CASE WHEN key IS NULL THEN concat('u|cont|', file_id, '|', CAST(cont_idx AS VARCHAR))
            ELSE concat('k|cont|', file_id, '|', CAST(cont_idx AS VARCHAR), '|', key) END AS dst
FROM entries
UNION ALL
SELECT {_x("file_id", "node_idx")},
       concat('k|cont|', file_id, '|', CAST(cont_idx AS VARCHAR), '|', back_key)
FROM entries WHERE back_key IS NOT NULL
"""

# Element reads (subscripts) and writes (subscript stores), keyed by the container
# location; ``key`` is the constant subscript, if any.
_ELEMENT_ACCESS = _through_copies(
    f"""
SELECT {_x("s.file_id", "v.node_idx")} AS recv, {_x("s.file_id", "s.node_idx")} AS loc,
       CASE WHEN i.ast_type = 'Slice' THEN 'slice' ELSE 'read' END AS access, k.key
FROM ast_nodes s
JOIN ast_nodes v ON v.file_id = s.file_id AND v.parent_idx = s.node_idx AND v.field = 'value'
LEFT JOIN ast_nodes i ON i.file_id = s.file_id AND i.parent_idx = s.node_idx AND i.field = 'slice'
LEFT JOIN cg_const_keys k ON k.file_id = i.file_id AND k.node_idx = i.node_idx
WHERE s.ast_type = 'Subscript' AND s.ctx = 'load'
UNION ALL
SELECT {_x("a.file_id", "v.node_idx")}, {_x("a.file_id", "a.value_idx")}, 'write', k.key
FROM ast_assignments a
JOIN ast_nodes v ON v.file_id = a.file_id AND v.parent_idx = a.target_idx AND v.field = 'value'
LEFT JOIN ast_nodes i ON i.file_id = a.file_id AND i.parent_idx = a.target_idx
    AND i.field = 'slice'
LEFT JOIN cg_const_keys k ON k.file_id = i.file_id AND k.node_idx = i.node_idx
WHERE a.target_shape = 'subscript' AND a.element_index IS NULL AND a.value_idx IS NOT NULL
UNION ALL
SELECT c.receiver, g.loc, 'write', CAST(NULL AS VARCHAR)
FROM cg_call_sites c
JOIN cg_call_args g ON g.call_key = c.call_key
WHERE (c.attr IN ('append', 'add') AND g.position = 0)
   OR (c.attr IN ('insert', 'setdefault') AND g.position = 1)
UNION ALL
SELECT receiver, result, 'read', CAST(NULL AS VARCHAR) FROM cg_call_sites
WHERE attr IN ('get', 'pop', 'setdefault', 'popleft', '__getitem__')
""",
    "recv",
    "loc",
)

# Receivers whose keyed entries may move (indices shift) or that code we cannot see gets.
_REORDERS = _through_copies(
    f"""
SELECT receiver AS loc FROM cg_call_sites
WHERE attr IN ('insert', 'pop', 'remove', 'reverse', 'sort', 'clear', 'append', 'extend',
               'popitem', '__delitem__', '__setitem__')
UNION ALL
SELECT {_x("s.file_id", "v.node_idx")}
FROM ast_nodes s
JOIN ast_nodes v ON v.file_id = s.file_id AND v.parent_idx = s.node_idx AND v.field = 'value'
WHERE s.ast_type = 'Subscript' AND s.ctx = 'del'
""",
    "loc",
)

# Iterations: where an iterated value's elements go (targets, unpacking, yield from).
_ITERATIONS = _through_copies(
    f"""
SELECT a.file_id, CAST(a.node_idx AS BIGINT) AS site_idx,
       CAST(a.scope_def_idx AS BIGINT) AS scope_def_idx, a.bstart, a.bend,
       {_x("a.file_id", "a.value_idx")} AS iter,
       CASE WHEN b.node_idx IS NULL
            THEN concat('t|', a.file_id, '|', CAST(a.target_idx AS VARCHAR))
            ELSE {_v("b.file_id", "b.owner_scope_idx", "b.name")} END AS target
FROM ast_assignments a
LEFT JOIN res_bindings b ON b.file_id = a.file_id AND b.node_idx = a.target_idx
    AND a.target_shape = 'name'
WHERE a.kind = 'for' AND a.element_index IS NULL AND a.value_idx IS NOT NULL
  AND (b.node_idx IS NOT NULL OR a.target_shape IN ('tuple', 'list'))
UNION ALL
SELECT g.file_id, CAST(g.node_idx AS BIGINT), CAST(t.scope_def_idx AS BIGINT), i.bstart, i.bend,
       {_x("i.file_id", "i.node_idx")}, {_v("b.file_id", "b.owner_scope_idx", "b.name")}
FROM ast_nodes g
JOIN ast_nodes i ON i.file_id = g.file_id AND i.parent_idx = g.node_idx AND i.field = 'iter'
JOIN ast_nodes x ON x.file_id = g.file_id AND x.parent_idx = g.node_idx AND x.field = 'target'
JOIN ast_names t ON t.file_id = x.file_id AND t.node_idx = x.node_idx
JOIN res_bindings b ON b.file_id = t.file_id AND b.node_idx = t.node_idx
WHERE g.ast_type = 'comprehension'
UNION ALL
SELECT r.file_id, CAST(r.node_idx AS BIGINT), CAST(r.def_idx AS BIGINT), r.bstart, r.bend,
       {_x("r.file_id", "r.value_idx")},
       concat('e|gen|', r.file_id, '|', CAST(r.def_idx AS VARCHAR))
FROM ast_returns r
WHERE r.kind = 'yield_from' AND r.value_idx IS NOT NULL AND r.def_idx IS NOT NULL
""",
    "iter",
)

# Unpacking targets: each element of a tuple/list target (``t|file|idx`` holds what the
# target receives) reads its constant key, counted from the back after a starred element;
# a nested tuple is a target of its own, a starred one collects every element into a list.
_UNPACKING = f"""
WITH shape AS (
    SELECT file_id, parent_idx, COUNT(*) AS n,
           MIN(CASE WHEN ast_type = 'Starred' THEN child_index END) AS star
    FROM ast_nodes WHERE field = 'elts' GROUP BY file_id, parent_idx
),
elements AS (
    SELECT a.file_id, a.target_idx, a.target_shape, a.element_index AS i, e.parent_idx, g.n,
           g.star
    FROM ast_assignments a
    JOIN ast_nodes e ON e.file_id = a.file_id AND e.node_idx = a.target_idx
    JOIN shape g ON g.file_id = e.file_id AND g.parent_idx = e.parent_idx
    WHERE a.element_index IS NOT NULL AND a.kind IN ('assign', 'for', 'with')
)
SELECT concat('t|', l.file_id, '|', CAST(l.parent_idx AS VARCHAR)) AS src,
       CASE WHEN l.target_shape = 'name' THEN {_v("b.file_id", "b.owner_scope_idx", "b.name")}
            WHEN l.target_shape = 'starred'
                THEN concat('e|cont|', l.file_id, '|', CAST(l.target_idx AS VARCHAR))
            ELSE concat('t|', l.file_id, '|', CAST(l.target_idx AS VARCHAR)) END AS dst,
       CASE WHEN l.target_shape = 'starred' THEN CAST(NULL AS VARCHAR)
            WHEN l.star IS NULL OR l.i < l.star THEN CAST(l.i AS VARCHAR)
            ELSE CAST(l.i - l.n AS VARCHAR) END AS key
FROM elements l
LEFT JOIN res_bindings b ON b.file_id = l.file_id AND b.node_idx = l.target_idx
    AND l.target_shape = 'name'
WHERE b.node_idx IS NOT NULL OR l.target_shape IN ('tuple', 'list', 'starred')
"""

_CLASS_BASES = _through_copies(
    f"""
SELECT d.val AS cls, CAST(b.child_index AS BIGINT) AS idx, {_x("b.file_id", "b.node_idx")} AS loc
FROM cg_defs d
JOIN ast_nodes b ON b.file_id = d.file_id AND b.parent_idx = d.node_idx AND b.field = 'bases'
WHERE d.kind = 'class'
""",
    "loc",
)

# The attributes of the builtin container types on this interpreter: an attribute of a
# container is its type's (``xs.append`` is ``builtins.list.append``).
_BUILTIN_CONTAINERS = {"list": list, "tuple": tuple, "set": set, "dict": dict}
_CONTAINER_METHODS_VALUES = ", ".join(
    f"('{name}', '{attr}')"
    for name, kind in sorted(_BUILTIN_CONTAINERS.items())
    for attr in sorted(dir(kind))
    if callable(getattr(kind, attr))
)
_CONTAINER_TYPES = f"""
SELECT concat('cont|', file_id, '|', CAST(node_idx AS VARCHAR)) AS val,
       CASE ast_type {" ".join(f"WHEN '{a}' THEN '{t}'" for a, t in _TYPED_CONTAINERS.items())}
       END AS type
FROM ast_nodes WHERE ast_type IN {_sql_in(_TYPED_CONTAINERS)}
UNION ALL
SELECT concat('cont|', file_id, '|', CAST(node_idx AS VARCHAR)),
       CASE WHEN kind = 'vararg' THEN 'tuple' ELSE 'dict' END
FROM ast_params WHERE kind IN ('vararg', 'kwarg')
UNION ALL
SELECT DISTINCT concat('cont|', file_id, '|', CAST(target_idx AS VARCHAR)), 'list'
FROM ast_assignments WHERE target_shape = 'starred'
"""
_CONTAINER_METHODS = f"SELECT * FROM (VALUES {_CONTAINER_METHODS_VALUES}) AS t(type, attr)"

_CLASS_NAMES = """
SELECT DISTINCT d.val AS cls, b.name
FROM res_bindings b
JOIN cg_defs d ON d.file_id = b.file_id AND d.scope_idx = b.owner_scope_idx AND d.kind = 'class'
"""

# Builtins whose result holds the elements of their first argument.
_COPYING_BUILTINS = (
    "('ext|builtins.list', 'ext|builtins.tuple', 'ext|builtins.set', 'ext|builtins.frozenset',"
    " 'ext|builtins.sorted', 'ext|builtins.reversed', 'ext|builtins.iter')"
)

# The constant key ``cg_const_keys`` gives a string: its repr, as ``ast_literals`` has it.
_STR_KEY = "concat(chr(39), {k}, chr(39))"

_CALLBACKS = """
SELECT * FROM (VALUES
    ('ext|builtins.map', 0, CAST(NULL AS VARCHAR)),
    ('ext|builtins.filter', 0, CAST(NULL AS VARCHAR)),
    ('ext|builtins.iter', 0, CAST(NULL AS VARCHAR)),
    ('ext|builtins.sorted', CAST(NULL AS BIGINT), 'key'),
    ('ext|builtins.min', CAST(NULL AS BIGINT), 'key'),
    ('ext|builtins.max', CAST(NULL AS BIGINT), 'key'),
    ('ext|functools.reduce', 0, CAST(NULL AS VARCHAR))
) AS t(callee, position, keyword)
"""


# -- one round of the dynamic rules ----------------------------------------------------


class _Names(NamedTuple):
    """Relation names one evaluation of the dynamic rules reads and writes."""

    pts: str
    bases: str
    mro: str
    lookup: str
    ext: str
    methods: str
    callees: str
    targets: str
    protocol: str
    # These exist only inside an iteration: the final evaluation has no such views.
    args: str = ""
    receivers: str = ""
    conts: str = ""
    elements: str = ""
    round_: str = ""
    flows: str = ""
    closed: str = ""
    prev_round: str = ""


# Inside the fixpoint iteration (temporary names, see SqlRuleSpec.steps) ...
_STEP = _Names(
    *(
        f"cg_pts__{s}"
        for s in (
            "state",
            "bases",
            "mro",
            "lookup",
            "external_base",
            "methods",
            "callees",
            "targets",
            "protocol",
            "args",
            "receivers",
            "conts",
            "elements",
            "round",
            "flows",
            "closed",
            "prev_round",
        )
    )
)
# ... and over the converged relation.
_FINAL = _Names(
    "cg_pts",
    "cg_bases",
    "cg_mro",
    "cg_lookup",
    "cg_external_base",
    "cg_methods",
    "cg_callees",
    "cg_targets",
    "cg_protocol",
)


def _bases(n: _Names) -> str:
    """Each class's base values; a relation of its own because the ancestor closure in
    :func:`_mro` is recursive, and DataFusion runs a recursive term's inputs again at
    every step (an inlined scan of the state per hierarchy level: 0.18 s of each
    iteration's 0.21 s MRO on the stdlib)."""
    return f"""
SELECT b.cls, b.idx, p.val AS base
FROM cg_class_bases b JOIN {n.pts} p ON p.loc = b.loc
WHERE {_kind("p.val")} IN ('cls', 'ext') AND p.val <> 'ext|builtins.object'
"""


def _mro(n: _Names) -> str:
    return f"""
WITH RECURSIVE anc(cls, child, idx, base) AS (
    SELECT cls, cls AS child, idx, base FROM {n.bases}
    UNION
    SELECT a.cls, b.cls, b.idx, b.base FROM anc a JOIN {n.bases} b ON b.cls = a.base
),
lists AS (
    SELECT d.val AS cls,
           c3_mro(d.val, array_agg(a.child), array_agg(a.idx), array_agg(a.base)) AS mro
    FROM cg_defs d LEFT JOIN anc a ON a.cls = d.val
    WHERE d.kind = 'class'
    GROUP BY d.val
)
SELECT cls, k - 1 AS pos, array_element(mro, k) AS base
FROM (
    SELECT cls, mro, unnest(generate_series(1, CAST(cardinality(mro) AS BIGINT))) AS k
    FROM lists
) x
"""


def _lookup(n: _Names) -> str:
    """The first class in each MRO binding each name: an aggregate and a join back (a
    ``ROW_NUMBER`` window sorted the ~75 k (class, name) pairs, 0.26 s every iteration)."""
    return f"""
WITH names AS (
    SELECT cls, name FROM cg_class_names
    UNION
    SELECT p.val, s.attr FROM cg_attr_stores s JOIN {n.pts} p ON p.loc = s.recv
    WHERE {_kind("p.val")} = 'cls'
),
first AS (
    SELECT m.cls, n.name AS attr, MIN(m.pos) AS pos
    FROM {n.mro} m JOIN names n ON n.cls = m.base
    GROUP BY m.cls, n.name
)
SELECT f.cls, f.attr, m.base AS holder
FROM first f JOIN {n.mro} m ON m.cls = f.cls AND m.pos = f.pos
"""


def _external_base(n: _Names) -> str:
    return f"""
SELECT cls, base FROM (
    SELECT cls, base, ROW_NUMBER() OVER (PARTITION BY cls ORDER BY pos) AS rn
    FROM {n.mro} WHERE {_kind("base")} = 'ext'
) x WHERE rn = 1
"""


# A bound method's function and receiver out of its value text.
_BM_FN = "concat('fn|', split_part({v}, '|', 3), '|', split_part({v}, '|', 4))"
_BM_SELF = (
    "substr({v}, length(concat('bm|fn|', split_part({v}, '|', 3), '|',"
    " split_part({v}, '|', 4), '|')) + 1)"
)


def _methods(n: _Names) -> str:
    """Functions bound in classes (``a|cls|...`` holding ``fn|``): what a method lookup
    reaches; the call and protocol rules read them in eight places."""
    return f"""
SELECT loc, val FROM {n.pts} WHERE loc LIKE 'a|cls|%' AND {_kind("val")} = 'fn'
"""


def _callees(n: _Names) -> str:
    """What each call site's callee holds; a relation of its own, as :func:`_targets`
    reads it in nine places and DataFusion would evaluate an inlined CTE once per read."""
    return f"""
SELECT c.call_key, c.site_kind, c.callee_shape, c.result, p.val, {_kind("p.val")} AS vk
FROM cg_call_sites c JOIN {n.pts} p ON p.loc = c.callee
WHERE c.site_kind <> 'raise' OR {_kind("p.val")} = 'cls'
"""


def _targets(n: _Names) -> str:
    """Call targets of every call site against points-to relation ``pts``, with the
    site's result location and kind, which the round's call rules need."""
    bm_fn = _BM_FN.format(v="cv.val")
    bm_self = _BM_SELF.format(v="cv.val")
    return f"""
WITH cv AS (SELECT * FROM {n.callees}),
classes AS (
    SELECT cv.call_key, cv.result, cv.site_kind, cv.val, COALESCE(l.holder, e.base) AS holder
    FROM cv
    LEFT JOIN {n.lookup} l ON l.cls = cv.val AND l.attr = '__init__'
    LEFT JOIN {n.ext} e ON e.cls = cv.val
    WHERE cv.vk = 'cls'
),
instances AS (
    SELECT cv.call_key, cv.result, cv.site_kind, cv.val, l.holder
    FROM cv JOIN {n.lookup} l
      ON l.cls = concat('cls', substr(cv.val, 5)) AND l.attr = '__call__'
    WHERE cv.vk = 'inst'
)
SELECT call_key, val AS target, 0 AS shift, CAST(NULL AS VARCHAR) AS self_val,
       CASE WHEN callee_shape = 'attribute' THEN 'attribute' ELSE 'function' END AS how,
       result, site_kind
FROM cv WHERE vk = 'fn'
UNION ALL
SELECT call_key, {bm_fn}, 1, {bm_self}, 'method', result, site_kind FROM cv WHERE vk = 'bm'
UNION ALL
SELECT call_key, val, 0, CAST(NULL AS VARCHAR), 'external', result, site_kind
FROM cv WHERE vk = 'ext'
UNION ALL
SELECT call_key, val, 0, CAST(NULL AS VARCHAR), 'unknown', result, site_kind
FROM cv WHERE vk = 'top'
UNION ALL
SELECT c.call_key, p.val, 1, concat('inst', substr(c.val, 4)), 'constructor', c.result,
       c.site_kind
FROM classes c JOIN {n.methods} p ON p.loc = concat('a|', c.holder, '|__init__')
UNION ALL
SELECT call_key, concat(holder, '.__init__'), 0, CAST(NULL AS VARCHAR), 'constructor', result,
       site_kind
FROM classes WHERE {_kind("holder")} = 'ext' AND holder NOT LIKE 'ext|builtins.%'
UNION ALL
SELECT call_key, val, 0, CAST(NULL AS VARCHAR), 'constructor', result, site_kind
FROM classes WHERE holder IS NULL OR holder LIKE 'ext|builtins.%'
UNION ALL
SELECT i.call_key, p.val, 1, i.val, 'method', i.result, i.site_kind
FROM instances i JOIN {n.methods} p ON p.loc = concat('a|', i.holder, '|__call__')
UNION ALL
SELECT cv.call_key, p.val, 0, CAST(NULL AS VARCHAR), 'builtin_callback', cv.result,
       cv.site_kind
FROM cv
JOIN cg_callbacks b ON b.callee = cv.val
JOIN cg_call_args g ON g.call_key = cv.call_key
    AND (g.position = b.position OR g.keyword = b.keyword)
JOIN {n.pts} p ON p.loc = g.loc
WHERE {_kind("p.val")} IN ('fn', 'bm')
"""


def _receivers(n: _Names) -> str:
    """What each attribute load's receiver holds; a step of its own, :func:`_round` reads
    it four times and DataFusion would evaluate an inlined CTE once per read."""
    return f"""
SELECT a.dst, a.attr, p.val, {_kind("p.val")} AS vk
FROM cg_attr_loads a JOIN {n.pts} p ON p.loc = a.recv
"""


def _args(n: _Names) -> str:
    """Each call target with each argument of its site: one relation, as :func:`_round`
    joins the two in six places."""
    return f"""
SELECT t.*, g.position, g.keyword, g.loc
FROM {n.targets} t JOIN cg_call_args g ON g.call_key = t.call_key
"""


def _conts(n: _Names) -> str:
    """The facts whose value is a container or generator: the round reads them in a
    dozen places, each a scan and ``split_part`` filter of the whole state otherwise."""
    return f"""
SELECT loc, val, {_kind("val")} AS vk FROM {n.pts} WHERE {_kind("val")} IN ('cont', 'gen')
"""


def _elements(n: _Names) -> str:
    """The containers each element access reaches; :func:`_round` reads them six times."""
    return f"""
SELECT e.access, e.key, e.loc, p.val, p.vk
FROM cg_element_access e JOIN {n.conts} p ON p.loc = e.recv
"""


def _round(n: _Names) -> str:
    """Dynamic flows (``src`` → ``dst``) and seeds (``src`` NULL, value in ``val``)."""
    return f"""
WITH t AS (SELECT * FROM {n.targets}),
recv AS (SELECT * FROM {n.receivers}),
looked AS (
    SELECT recv.dst, recv.attr, recv.val, recv.vk, COALESCE(l.holder, e.base) AS holder
    FROM recv
    LEFT JOIN {n.lookup} l
      ON l.attr = recv.attr AND l.cls = CASE recv.vk
            WHEN 'inst' THEN concat('cls', substr(recv.val, 5)) ELSE recv.val END
    LEFT JOIN {n.ext} e ON e.cls = CASE recv.vk
            WHEN 'inst' THEN concat('cls', substr(recv.val, 5)) ELSE recv.val END
    WHERE recv.vk IN ('inst', 'cls') AND COALESCE(l.holder, e.base) IS NOT NULL
),
sup_recv AS (
    SELECT dst, attr, val,
           concat('cls|', split_part(val, '|', 3), '|', split_part(val, '|', 4)) AS owner,
           CASE WHEN split_part(val, '|', 5) IN ('inst', 'cls')
                THEN concat('cls|', split_part(val, '|', 6), '|', split_part(val, '|', 7))
           END AS self_cls
    FROM recv WHERE vk = 'sup'
),
supers AS (
    SELECT dst, attr, val, holder FROM (
        SELECT r.dst, r.attr, r.val, m.base AS holder,
               ROW_NUMBER() OVER (PARTITION BY r.dst, r.attr, r.val ORDER BY m.pos) AS rn
        FROM sup_recv r
        JOIN {n.mro} o ON o.cls = COALESCE(r.self_cls, r.owner) AND o.base = r.owner
        JOIN {n.mro} m ON m.cls = o.cls AND m.pos > o.pos
        JOIN cg_class_names k ON k.cls = m.base AND k.name = r.attr
    ) x WHERE rn = 1
),
held AS (
    SELECT k.dst, k.val, k.vk, p.val AS hval, f.is_static, f.is_classmethod, f.accessor
    FROM looked k
    JOIN {n.pts} p ON p.loc = concat('a|', k.holder, '|', k.attr)
    LEFT JOIN cg_defs f ON f.val = p.val
    WHERE {_kind("k.holder")} = 'cls'
),
super_held AS (
    SELECT s.dst, s.val, p.val AS hval
    FROM supers s JOIN {n.methods} p ON p.loc = concat('a|', s.holder, '|', s.attr)
),
self_vals AS (
    SELECT c.call_key, c.result, p.val AS self_val, d.parent_def_idx, c.file_id
    FROM cg_call_sites c
    JOIN cg_defs d ON d.file_id = c.file_id AND d.node_idx = c.scope_def_idx
    JOIN cg_params q ON q.fn = d.val AND q.index = 0
    JOIN {n.pts} p ON p.loc = q.var
    WHERE c.callee_text = 'super' AND d.is_method
),
iter_vals AS (
    SELECT i.*, p.val, p.vk FROM cg_iterations i JOIN {n.conts} p ON p.loc = i.iter
),
destructured AS (
    SELECT u.dst, u.key, p.val, p.vk FROM cg_unpacking u JOIN {n.conts} p ON p.loc = u.src
),
packed AS (
    SELECT g.loc, q.pack, g.position + g.shift - q.index AS slot,
           COUNT(*) OVER (PARTITION BY g.call_key, g.target, g.shift, q.pack) AS n
    FROM {n.args} g
    JOIN cg_params q ON q.fn = g.target AND q.kind = 'vararg' AND g.position + g.shift >= q.index
    WHERE g.position IS NOT NULL AND g.how <> 'builtin_callback'
),
unpacked AS (
    SELECT t.target, t.shift, u.position, u.is_double_star, u.loc
    FROM t JOIN cg_unpacked_args u ON u.call_key = t.call_key
    WHERE t.how <> 'builtin_callback'
),
keywords AS (
    SELECT g.loc, g.keyword, q.pack
    FROM {n.args} g
    JOIN cg_params q ON q.fn = g.target AND q.kind = 'kwarg'
    WHERE g.keyword IS NOT NULL AND g.how <> 'builtin_callback' AND NOT EXISTS (
        SELECT 1 FROM cg_params o WHERE o.fn = g.target AND o.name = g.keyword
          AND o.kind IN ('positional', 'keyword_only'))
),
spread AS (
    SELECT p.val, q.var, q.name
    FROM unpacked u
    JOIN cg_params q ON q.fn = u.target AND q.kind IN ('positional', 'keyword_only')
    JOIN {n.conts} p ON p.loc = u.loc AND p.vk = 'cont'
    WHERE u.is_double_star
)
-- 7. attribute loads
SELECT concat('a|', val, '|', attr) AS src, dst, CAST(NULL AS VARCHAR) AS val
FROM recv WHERE vk IN ('mod', 'inst')
UNION ALL
SELECT NULL, dst, CASE
    WHEN vk = 'inst' AND {_kind("hval")} = 'fn' AND is_classmethod
        THEN concat('bm|', hval, '|cls', substr(val, 5))
    WHEN vk = 'inst' AND {_kind("hval")} = 'fn' AND NOT is_static THEN concat('bm|', hval, '|', val)
    WHEN vk = 'cls' AND {_kind("hval")} = 'fn' AND is_classmethod
        THEN concat('bm|', hval, '|', val)
    ELSE hval END
FROM held WHERE vk <> 'inst' OR accessor IS NULL
UNION ALL
SELECT NULL, k.dst, concat(k.holder, '.', k.attr)
FROM looked k LEFT JOIN {n.pts} own ON own.loc = concat('a|', k.val, '|', k.attr)
WHERE {_kind("k.holder")} = 'ext' AND own.loc IS NULL
UNION ALL
SELECT NULL, dst, concat(val, '.', attr) FROM recv
WHERE vk = 'ext' AND length(val) - length(replace(val, '.', '')) < {_MAX_EXTERNAL_DOTS}
UNION ALL
SELECT NULL, r.dst, concat('ext|builtins.', t.type, '.', r.attr)
FROM recv r
JOIN cg_container_types t ON t.val = r.val
JOIN cg_container_methods m ON m.type = t.type AND m.attr = r.attr
WHERE r.vk = 'cont'
UNION ALL
SELECT NULL, r.dst, concat('ext|builtins.property.', r.attr)
FROM recv r JOIN cg_defs d ON d.val = r.val
WHERE r.vk = 'fn' AND d.accessor = 'get' AND r.attr IN ('getter', 'setter', 'deleter')
UNION ALL
SELECT NULL, dst,
       concat('bm|', hval, '|', substr(val, length(concat('sup|', split_part(val, '|', 2), '|',
              split_part(val, '|', 3), '|', split_part(val, '|', 4), '|')) + 1))
FROM super_held
UNION ALL
SELECT s.src, concat('a|', p.val, '|', s.attr), NULL
FROM cg_attr_stores s JOIN {n.pts} p ON p.loc = s.recv
WHERE {_kind("p.val")} IN ('inst', 'cls', 'mod')
-- 8. calls
UNION ALL
SELECT NULL, result, concat('sup|cls|', c.file_id, '|', CAST(c.parent_def_idx AS VARCHAR), '|',
       c.self_val)
FROM self_vals c
UNION ALL
SELECT NULL, t.result, concat('inst', substr(t.target, 4))
FROM t
WHERE t.how = 'constructor' AND {_kind("t.target")} = 'cls'
UNION ALL
SELECT NULL, t.result, t.self_val
FROM t
WHERE t.how = 'constructor' AND t.self_val IS NOT NULL
UNION ALL
SELECT NULL, q.var, t.self_val
FROM t JOIN cg_params q ON q.fn = t.target AND q.index = 0
WHERE t.shift = 1 AND t.self_val IS NOT NULL
UNION ALL
SELECT g.loc, q.var, NULL
FROM {n.args} g
JOIN cg_params q ON q.fn = g.target
  AND ((g.position IS NOT NULL AND q.index = g.position + g.shift
        AND q.kind IN ('positional_only', 'positional'))
    OR (g.keyword IS NOT NULL AND q.name = g.keyword
        AND q.kind IN ('positional', 'keyword_only')))
WHERE g.how <> 'builtin_callback'
UNION ALL
SELECT loc, concat('e|', pack), NULL FROM packed
UNION ALL
SELECT loc, concat('k|', pack, '|', CAST(slot AS VARCHAR)), NULL FROM packed
UNION ALL
SELECT loc, concat('k|', pack, '|', CAST(slot - n AS VARCHAR)), NULL FROM packed
UNION ALL
SELECT loc, concat('e|', pack), NULL FROM keywords
UNION ALL
SELECT loc, concat('k|', pack, '|', {_STR_KEY.format(k="keyword")}), NULL FROM keywords
UNION ALL
SELECT concat('e|', p.val), q.var, NULL
FROM unpacked u
JOIN cg_params q ON q.fn = u.target AND q.kind IN ('positional_only', 'positional')
    AND q.index >= u.position + u.shift
JOIN {n.conts} p ON p.loc = u.loc
WHERE NOT u.is_double_star
UNION ALL
SELECT concat('u|', val), var, NULL FROM spread
UNION ALL
SELECT concat('k|', val, '|', {_STR_KEY.format(k="name")}), var, NULL FROM spread
UNION ALL
SELECT concat('e|', p.val), concat(w.part, q.pack), NULL
FROM unpacked u
JOIN cg_params q ON q.fn = u.target
    AND q.kind = CASE WHEN u.is_double_star THEN 'kwarg' ELSE 'vararg' END
JOIN {n.conts} p ON p.loc = u.loc
CROSS JOIN (VALUES ('e|'), ('u|')) AS w(part)
UNION ALL
SELECT NULL, t.result, t.self_val
FROM t
JOIN cg_param_returns pr ON pr.fn = t.target AND pr.index = 0
WHERE t.shift = 1 AND t.self_val IS NOT NULL
UNION ALL
SELECT concat('r|', t.target), t.result, NULL
FROM t
WHERE {_kind("t.target")} = 'fn' AND t.how NOT IN ('builtin_callback', 'constructor')
UNION ALL
SELECT g.loc, g.result, NULL
FROM {n.args} g
JOIN cg_param_returns pr ON pr.fn = g.target
  AND ((g.position IS NOT NULL AND g.position + g.shift = pr.index)
    OR (g.keyword IS NOT NULL AND g.keyword = pr.name))
WHERE g.how <> 'builtin_callback'
UNION ALL
SELECT g.loc, g.result, NULL
FROM {n.args} g
WHERE g.position = 0 AND g.site_kind = 'decorator' AND {_kind("g.target")} = 'ext'
UNION ALL
SELECT g.loc, c.result, NULL
FROM cg_decorator_factories f
JOIN cg_call_sites c ON c.call_key = f.call_key
JOIN cg_call_args g ON g.call_key = f.call_key AND g.position = 0
WHERE EXISTS (SELECT 1 FROM {n.pts} p WHERE p.loc = f.factory AND {_kind("p.val")} = 'ext')
-- 9. containers and iteration
UNION ALL
SELECT concat('e|', val), loc, NULL FROM {n.elements}
WHERE access = 'read' AND (key IS NULL OR vk = 'gen')
UNION ALL
SELECT NULL, loc, val FROM {n.elements} WHERE access = 'slice' AND vk = 'cont'
UNION ALL
SELECT concat('k|', val, '|', key), loc, NULL FROM {n.elements}
WHERE access = 'read' AND key IS NOT NULL AND vk = 'cont'
UNION ALL
SELECT concat('u|', val), loc, NULL FROM {n.elements}
WHERE access = 'read' AND key IS NOT NULL AND vk = 'cont'
UNION ALL
SELECT loc, concat('e|', val), NULL FROM {n.elements} WHERE access = 'write' AND vk = 'cont'
UNION ALL
SELECT loc, CASE WHEN key IS NULL THEN concat('u|', val) ELSE concat('k|', val, '|', key) END,
       NULL
FROM {n.elements} WHERE access = 'write' AND vk = 'cont'
UNION ALL
SELECT concat('e|', p.val), concat('u|', p.val), NULL
FROM cg_reorders r JOIN {n.conts} p ON p.loc = r.loc
WHERE p.vk = 'cont'
UNION ALL
SELECT concat('e|', val), target, NULL FROM iter_vals WHERE vk IN ('cont', 'gen')
UNION ALL
SELECT concat('k|', val, '|', key), dst, NULL
FROM destructured WHERE vk = 'cont' AND key IS NOT NULL
UNION ALL
SELECT concat('u|', val), dst, NULL FROM destructured WHERE vk = 'cont' AND key IS NOT NULL
UNION ALL
SELECT concat('e|', val), dst, NULL FROM destructured WHERE vk = 'gen' OR key IS NULL
UNION ALL
SELECT concat('r|', fn), target, NULL FROM {n.protocol}
WHERE returns_to_target AND target IS NOT NULL
UNION ALL
SELECT NULL, q.var, r.self_val
FROM {n.protocol} r JOIN cg_params q ON q.fn = r.fn AND q.index = 0
UNION ALL
SELECT r.arg, q.var, NULL
FROM {n.protocol} r JOIN cg_params q ON q.fn = r.fn AND q.index = 1
WHERE r.arg IS NOT NULL
UNION ALL
SELECT NULL, w.target, p.val
FROM cg_with_items w JOIN {n.pts} p ON p.loc = w.loc
WHERE w.method IN ('__enter__', '__aenter__') AND w.target IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM {n.protocol} r
    WHERE r.file_id = w.file_id AND r.site_idx = w.site_idx AND r.method = w.method
      AND r.self_val = p.val)
UNION ALL
SELECT NULL, i.dst, concat('inst', substr(p.val, 4))
FROM cg_instance_of i JOIN {n.pts} p ON p.loc = i.src
WHERE {_kind("p.val")} = 'cls'
UNION ALL
SELECT NULL, g.result, p.val
FROM {n.args} g
JOIN {n.conts} p ON p.loc = g.loc
WHERE g.position = 0 AND g.target IN {_COPYING_BUILTINS}
UNION ALL
SELECT NULL, c.result, p.val
FROM cg_call_sites c JOIN {n.conts} p ON p.loc = c.receiver
WHERE c.attr IN ('values', 'copy') AND p.vk = 'cont'
UNION ALL
SELECT g.loc, c.result, NULL
FROM cg_call_sites c
JOIN cg_call_args g ON g.call_key = c.call_key AND g.position = 1
WHERE c.attr IN ('get', 'pop')
  AND EXISTS (SELECT 1 FROM {n.conts} p WHERE p.loc = c.receiver AND p.vk = 'cont')
UNION ALL
SELECT concat('e|', o.val), concat(w.part, r.val), NULL
FROM cg_call_sites c
JOIN cg_call_args g ON g.call_key = c.call_key AND g.position = 0
JOIN {n.conts} r ON r.loc = c.receiver
JOIN {n.conts} o ON o.loc = g.loc
CROSS JOIN (VALUES ('e|'), ('u|')) AS w(part)
WHERE c.attr IN ('update', 'extend') AND r.vk = 'cont'
UNION ALL
SELECT NULL, t.result, t.target
FROM t
WHERE t.how = 'external' AND regexp_like(regexp_replace(t.target, '^.*[.|]', ''), '^[A-Z]')
"""


def _protocol(n: _Names) -> str:
    """Implicit calls on instances: iterating one calls ``__iter__`` of its class, then
    ``__next__`` of the result; a ``with`` item calls ``__enter__`` and ``__exit__``;
    loading an attribute that is a property calls its getter, storing it its setter.
    ``self_val`` is the instance each call receives, ``arg`` the location of its second
    argument (a setter's value), ``returns_to_target`` whether its result reaches
    ``target`` (``__next__``, ``__enter__``, a getter)."""
    receivers = n.receivers or f"({_receivers(n)})"
    return f"""
WITH inst AS (
    SELECT i.file_id, i.site_idx, i.scope_def_idx, i.bstart, i.bend, i.target, p.val
    FROM cg_iterations i JOIN {n.pts} p ON p.loc = i.iter
    WHERE {_kind("p.val")} = 'inst'
),
iters AS (
    SELECT n.*, f.val AS fn
    FROM inst n
    JOIN {n.lookup} l ON l.cls = concat('cls', substr(n.val, 5)) AND l.attr = '__iter__'
    JOIN {n.methods} f ON f.loc = concat('a|', l.holder, '|__iter__')
),
iterators AS (
    SELECT i.*, rv.val AS it FROM iters i JOIN {n.pts} rv ON rv.loc = concat('r|', i.fn)
    WHERE {_kind("rv.val")} = 'inst'
    UNION ALL
    SELECT i.*, i.val AS it FROM iters i JOIN cg_param_returns r ON r.fn = i.fn AND r.index = 0
),
nexts AS (
    SELECT i.file_id, i.site_idx, i.scope_def_idx, i.bstart, i.bend, i.target, f.val AS fn, i.it
    FROM iterators i
    JOIN {n.lookup} l ON l.cls = concat('cls', substr(i.it, 5)) AND l.attr = '__next__'
    JOIN {n.methods} f ON f.loc = concat('a|', l.holder, '|__next__')
),
managed AS (
    SELECT w.file_id, w.site_idx, w.scope_def_idx, w.bstart, w.bend, w.target, f.val AS fn,
           w.method, p.val AS self_val
    FROM cg_with_items w
    JOIN {n.pts} p ON p.loc = w.loc AND {_kind("p.val")} = 'inst'
    JOIN {n.lookup} l ON l.cls = concat('cls', substr(p.val, 5)) AND l.attr = w.method
    JOIN {n.methods} f ON f.loc = concat('a|', l.holder, '|', w.method)
),
getters AS (
    SELECT a.file_id, a.site_idx, a.scope_def_idx, a.bstart, a.bend, a.dst AS target,
           f.val AS fn, a.attr AS method, r.val AS self_val
    FROM {receivers} r
    JOIN {n.lookup} l ON l.cls = concat('cls', substr(r.val, 5)) AND l.attr = r.attr
    JOIN {n.methods} f ON f.loc = concat('a|', l.holder, '|', r.attr)
    JOIN cg_defs d ON d.val = f.val AND d.accessor = 'get'
    JOIN cg_attr_loads a ON a.dst = r.dst AND a.attr = r.attr
    WHERE r.vk = 'inst'
),
setters AS (
    SELECT s.file_id, s.site_idx, s.scope_def_idx, s.bstart, s.bend, s.src, f.val AS fn,
           s.attr AS method, p.val AS self_val
    FROM cg_attr_stores s
    JOIN {n.pts} p ON p.loc = s.recv AND {_kind("p.val")} = 'inst'
    JOIN {n.lookup} l ON l.cls = concat('cls', substr(p.val, 5)) AND l.attr = s.attr
    JOIN {n.methods} f ON f.loc = concat('a|', l.holder, '|', s.attr)
    JOIN cg_defs d ON d.val = f.val AND d.accessor = 'set'
)
SELECT DISTINCT file_id, site_idx, scope_def_idx, bstart, bend, target, fn, '__iter__' AS method,
       val AS self_val, CAST(NULL AS VARCHAR) AS arg, false AS returns_to_target,
       'protocol' AS how
FROM iters
UNION
SELECT DISTINCT file_id, site_idx, scope_def_idx, bstart, bend, target, fn, '__next__', it, NULL,
       true, 'protocol'
FROM nexts
UNION
SELECT DISTINCT file_id, site_idx, scope_def_idx, bstart, bend, target, fn, method, self_val,
       NULL, method IN ('__enter__', '__aenter__'), 'protocol'
FROM managed
UNION
SELECT DISTINCT file_id, site_idx, scope_def_idx, bstart, bend, target, fn, method, self_val,
       NULL, true, 'property'
FROM getters
UNION
SELECT DISTINCT file_id, site_idx, scope_def_idx, bstart, bend, NULL, fn, method, self_val, src,
       false, 'property'
FROM setters
"""


def _capped(facts: str, capped_before: bool = False) -> str:
    """CTEs and final SELECT applying the saturation limit to CTE ``facts`` (loc, val, fresh).

    A location holding more than ``SATURATION_LIMIT`` values keeps only ``top|sat``: the
    set is widened to "unknown", so hubs (a cache dict, a decorator's wrapper, a
    parameter every module passes something to) cannot multiply the relation. When the
    non-fresh facts were ``capped_before``, only locations with a fresh fact can exceed
    the limit, so only theirs are counted (a CTE read again would be evaluated again,
    so the initial closure counts every location).
    """
    counted = facts
    if capped_before:
        counted = f"""(SELECT f.loc, f.val FROM {facts} f
        JOIN (SELECT DISTINCT loc FROM {facts} WHERE fresh) t ON t.loc = f.loc)"""
    return f"""
over AS (
    SELECT loc FROM {counted} c WHERE {_kind("c.val")} <> 'top'
    GROUP BY loc HAVING COUNT(*) > {SATURATION_LIMIT}
)
SELECT f.loc, f.val, f.fresh FROM {facts} f LEFT JOIN over o ON o.loc = f.loc
WHERE o.loc IS NULL
UNION ALL
SELECT loc, {_SATURATED}, true FROM over
"""


def _seed_closure() -> str:
    """The closure of the static facts: the fixpoint's initial state."""
    return f"""
WITH RECURSIVE pts(loc, val) AS (
    SELECT loc, val FROM cg_seed_static
    UNION
    SELECT f.dst, p.val FROM pts p JOIN cg_flow_static f ON f.src = p.loc
),
facts AS (SELECT loc, val, true AS fresh FROM pts),
{_capped("facts")}"""


def _flows(n: _Names) -> str:
    """This iteration's flows (static and dynamic) into locations not saturated yet.

    Computed once per iteration: the recursive closure re-reads its inputs at every
    recursive step, so filtering there would scan the state again each time. ``UNION
    ALL``: a flow listed twice only repeats a join row the recursion's ``UNION`` drops,
    while deduplicating ~620 k flows every iteration cost 5.5 s of the stdlib fixpoint
    (1.6 s without).
    """
    return f"""
WITH sat AS (SELECT loc FROM {n.pts} WHERE val = {_SATURATED}),
flows AS (
    SELECT src, dst FROM cg_flow_static
    UNION ALL
    SELECT src, dst FROM {n.round_} WHERE src IS NOT NULL
)
SELECT f.src, f.dst FROM flows f LEFT JOIN sat s ON s.loc = f.dst WHERE s.loc IS NULL
"""


def _closure_step(n: _Names) -> str:
    """Semi-naive closure of one iteration: only facts new in it propagate.

    The state is closed under the static flows and the previous iteration's dynamic
    ones, so the anchor is this iteration's seeds, the state pushed along the dynamic
    flows new in this iteration (pushed along an old flow, it yields only facts the state
    holds or a saturated location would receive), and "unknown" out of locations
    saturated last iteration; minus what the state already holds and what saturated
    locations would receive. Only those propagate, and
    what they reach that the state did not hold is ``fresh``. (An anti-join inside the
    recursion would rebuild the state's hash table on every recursive step.) The result
    is a step of its own: :func:`_capped` reads it twice, and DataFusion inlines a CTE
    read twice, so in one statement the recursion ran twice (measured on the stdlib).
    """
    return f"""
WITH RECURSIVE sat AS (SELECT loc FROM {n.pts} WHERE val = {_SATURATED}),
fresh AS (
    SELECT n.loc, n.val FROM (
        SELECT dst AS loc, {_flowing("val")} AS val FROM {n.round_}
        WHERE src IS NULL AND val IS NOT NULL
        UNION
        SELECT f.dst, {_flowing("p.val")} FROM (
            SELECT r.src, r.dst FROM {n.round_} r
            LEFT JOIN {n.prev_round} o ON o.src = r.src AND o.dst = r.dst
            WHERE r.src IS NOT NULL AND o.src IS NULL
        ) f JOIN {n.pts} p ON p.loc = f.src
        UNION
        SELECT f.dst, {_TOP} FROM {n.flows} f JOIN {n.pts} p ON p.loc = f.src
        WHERE p.fresh AND p.val = {_SATURATED}
    ) n
    LEFT JOIN {n.pts} o ON o.loc = n.loc AND o.val = n.val
    LEFT JOIN sat s ON s.loc = n.loc
    WHERE o.loc IS NULL AND s.loc IS NULL
),
delta(loc, val) AS (
    SELECT loc, val FROM fresh
    UNION
    SELECT f.dst, d.val FROM delta d JOIN {n.flows} f ON f.src = d.loc
),
facts AS (
    SELECT loc, val, false AS fresh FROM {n.pts}
    UNION ALL
    SELECT d.loc, d.val, true
    FROM delta d LEFT JOIN {n.pts} o ON o.loc = d.loc AND o.val = d.val
    WHERE o.loc IS NULL
)
SELECT loc, val, fresh FROM facts"""


def _capped_step(closed: str) -> str:
    """The last step of an iteration: the saturation limit over the closed facts."""
    return f"WITH {_capped(closed, capped_before=True)}"


# -- outputs ------------------------------------------------------------------------------

_FINAL_TARGETS = """
SELECT c.call_key, c.file_id, c.site_idx, c.scope_def_idx, c.bstart, c.bend, c.callee_text,
       c.callee_shape, c.site_kind, t.target, t.how
FROM cg_call_sites c
LEFT JOIN (SELECT DISTINCT call_key, target, how FROM cg_targets) t
  ON t.call_key = c.call_key
WHERE c.site_kind <> 'raise' OR t.target IS NOT NULL
UNION ALL
SELECT DISTINCT concat('it|', file_id, '|', CAST(site_idx AS VARCHAR), '|', method), file_id,
       site_idx, scope_def_idx, bstart, bend, method, 'protocol', 'protocol', fn, how
FROM cg_protocol
"""

# A method of a builtin container type (``builtins.dict.items``), on an instance or the type.
_CONTAINER_METHOD_TARGET = (
    "^ext\\|builtins\\.(" + "|".join(sorted(_BUILTIN_CONTAINERS)) + ")\\.[^.]+$"
)
_CALLER_ID = _ast_id("k.file_id", "COALESCE(o.owner_idx, 0)")
_SITE_ID = _ast_id("k.file_id", "k.site_idx")
_UNRESOLVED_ID = sql_stable_id("unresolved", "k.callee_text")
_CALLS = f"""
WITH k AS (
    SELECT f.*, COUNT(DISTINCT f.target) OVER (PARTITION BY f.call_key) AS n_targets
    FROM cg_call_targets f
),
resolved AS (
    SELECT k.*, {_node_of_value("k.target")} AS dst,
           CASE
               WHEN k.how = 'builtin_callback' THEN 'builtin_callback'
               WHEN k.how IN ('protocol', 'property') THEN k.how
               WHEN regexp_like(k.target, '{_CONTAINER_METHOD_TARGET}') THEN 'builtin_method'
               WHEN k.target LIKE 'ext|builtins.%' THEN 'builtins'
               WHEN {_kind("k.target")} = 'ext' THEN 'import'
               WHEN k.how = 'constructor' THEN 'constructor'
               WHEN k.site_kind = 'decorator' THEN 'decorator'
               WHEN k.how = 'method' THEN 'method'
               WHEN split_part(k.target, '|', 2) <> k.file_id THEN 'import'
               WHEN k.how = 'attribute' THEN 'attribute'
               ELSE 'points_to'
           END AS method
    FROM k
    WHERE k.target IS NOT NULL AND {_kind("k.target")} <> 'top'
),
edges AS (
    SELECT k.file_id, k.site_idx, k.scope_def_idx, k.bstart, k.bend, k.dst, k.method,
           1.0 / k.n_targets AS confidence
    FROM resolved k
    UNION ALL
    SELECT k.file_id, k.site_idx, k.scope_def_idx, k.bstart, k.bend, {_UNRESOLVED_ID},
           'unresolved', 0.0
    FROM k WHERE (k.target IS NULL AND k.n_targets = 0) OR {_kind("k.target")} = 'top'
)
SELECT {sql_stable_id("edge", "'CALLS'", _SITE_ID, "k.dst")} AS edge_id, 'CALLS' AS edge_kind,
       {_SITE_ID} AS src_node_id, k.dst AS dst_node_id, k.file_id, f.path, k.bstart, k.bend,
       {_ORIGIN} AS origin, MIN(k.method) AS resolution_method,
       MAX(k.confidence) AS confidence, {_CALLER_ID} AS p__caller
FROM edges k
JOIN repo_files f ON f.file_id = k.file_id
LEFT JOIN cg_owner o ON o.file_id = k.file_id AND o.def_idx = k.scope_def_idx
GROUP BY k.file_id, f.path, k.site_idx, k.bstart, k.bend, k.dst, o.owner_idx
"""

_UNRESOLVED_NODES = f"""
SELECT {sql_stable_id("unresolved", "callee_text")} AS node_id, 'UNRESOLVED' AS node_kind,
       CAST(NULL AS VARCHAR) AS file_id, CAST(NULL AS VARCHAR) AS path,
       CAST(NULL AS BIGINT) AS bstart, CAST(NULL AS BIGINT) AS bend,
       callee_text AS name, CAST(NULL AS VARCHAR) AS qualname, {_ORIGIN} AS origin,
       COUNT(*) AS p__n_sites
FROM cg_call_targets WHERE target IS NULL OR {_kind("target")} = 'top'
GROUP BY callee_text
"""

_IMPORT_TARGETS = """
SELECT i.file_id, i.node_idx, p.val, 'import' AS method
FROM cg_imports i
JOIN cg_pts p ON p.loc = concat('imp|', i.file_id, '|', CAST(i.node_idx AS VARCHAR))
WHERE NOT i.is_star AND split_part(p.val, '|', 1) IN ('fn', 'cls', 'mod', 'ext')
UNION ALL
SELECT i.file_id, i.node_idx, concat('mod|', i.source_module), 'import_module'
FROM cg_imports i
WHERE i.source_module IS NOT NULL AND (i.is_star OR (NOT i.is_from AND i.asname IS NULL))
UNION ALL
SELECT i.file_id, i.node_idx, concat('ext|', i.source), 'import_module'
FROM cg_imports i
WHERE i.source_module IS NULL AND (i.is_star OR (NOT i.is_from AND i.asname IS NULL))
"""

_IMPORT_ID = _ast_id("t.file_id", "t.node_idx")
_IMPORTS_EDGES = f"""
WITH t AS (
    SELECT t.*, {_node_of_value("t.val", "mods.module_node")} AS dst
    FROM (SELECT DISTINCT * FROM cg_import_targets) t
    LEFT JOIN cg_modules mods ON t.val = concat('mod|', mods.module)
)
SELECT {sql_stable_id("edge", "'IMPORTS'", _IMPORT_ID, "t.dst")} AS edge_id,
       'IMPORTS' AS edge_kind, {_IMPORT_ID} AS src_node_id, t.dst AS dst_node_id,
       t.file_id, f.path, a.bstart, a.bend, {_ORIGIN} AS origin,
       MIN(t.method) AS resolution_method,
       1.0 / COUNT(*) OVER (PARTITION BY t.file_id, t.node_idx) AS confidence
FROM t
JOIN repo_files f ON f.file_id = t.file_id
JOIN ast_imports a ON a.file_id = t.file_id AND a.node_idx = t.node_idx
WHERE t.dst IS NOT NULL
GROUP BY t.file_id, f.path, t.node_idx, a.bstart, a.bend, t.dst
"""

_CLASS_ID = _ast_id("split_part(b.cls, '|', 2)", "split_part(b.cls, '|', 3)")
_INHERITS = f"""
WITH b AS (
    SELECT DISTINCT b.cls, b.idx, p.val, {_node_of_value("p.val")} AS dst
    FROM cg_class_bases b
    JOIN cg_pts p ON p.loc = b.loc
    WHERE split_part(p.val, '|', 1) IN ('cls', 'ext')
)
SELECT {sql_stable_id("edge", "'INHERITS_FROM'", _CLASS_ID, "b.dst")} AS edge_id,
       'INHERITS_FROM' AS edge_kind, {_CLASS_ID} AS src_node_id, b.dst AS dst_node_id,
       d.file_id, f.path, d.bstart, d.bend, {_ORIGIN} AS origin,
       CASE WHEN split_part(b.val, '|', 1) = 'ext' THEN 'import'
            WHEN split_part(b.val, '|', 2) <> d.file_id THEN 'import'
            ELSE 'lexical_scope' END AS resolution_method,
       1.0 / COUNT(*) OVER (PARTITION BY b.cls, b.idx) AS confidence,
       MIN(b.idx) AS p__index
FROM b
JOIN cg_defs d ON d.val = b.cls
JOIN repo_files f ON f.file_id = d.file_id
GROUP BY b.cls, b.idx, b.val, b.dst, d.file_id, f.path, d.bstart, d.bend
"""

# What a name use holds, read through its variable when it is a copy.
_USE_COPY = _copy_read("uc", _x("u.file_id", "u.node_idx"))

# Names and attributes whose value is a definition elsewhere (or an external name).
_CROSS_REFS = f"""
WITH uses AS (
    SELECT u.file_id, u.node_idx, u.bstart, u.bend, p.val, 'import' AS method
    FROM res_uses u
    {_USE_COPY[0]}
    JOIN cg_pts p ON p.loc = {_USE_COPY[1]}
    WHERE (split_part(p.val, '|', 1) IN ('fn', 'cls') AND split_part(p.val, '|', 2) <> u.file_id)
       OR split_part(p.val, '|', 1) = 'mod'
       OR (split_part(p.val, '|', 1) = 'ext' AND p.val NOT LIKE 'ext|builtins.%')
    UNION ALL
    SELECT a.file_id, CAST(a.node_idx AS BIGINT), a.bstart, a.bend, p.val, 'attribute'
    FROM ast_attributes a
    JOIN cg_pts p ON p.loc = {_x("a.file_id", "a.node_idx")}
    WHERE a.ctx = 'load' AND split_part(p.val, '|', 1) IN ('fn', 'cls', 'mod', 'ext')
    UNION ALL
    SELECT a.file_id, CAST(a.node_idx AS BIGINT), a.bstart, a.bend,
           concat('fn|', split_part(p.val, '|', 3), '|', split_part(p.val, '|', 4)), 'method'
    FROM ast_attributes a
    JOIN cg_pts p ON p.loc = {_x("a.file_id", "a.node_idx")}
    WHERE a.ctx = 'load' AND split_part(p.val, '|', 1) = 'bm'
    UNION ALL
    SELECT a.file_id, CAST(a.node_idx AS BIGINT), a.bstart, a.bend, g.fn, 'property'
    FROM cg_protocol g
    JOIN ast_attributes a ON a.file_id = g.file_id AND a.node_idx = g.site_idx
    WHERE g.how = 'property' AND a.ctx = 'load'
),
t AS (
    SELECT DISTINCT u.file_id, u.node_idx, u.bstart, u.bend, u.val, u.method,
           {_node_of_value("u.val", "mods.module_node")} AS dst
    FROM uses u LEFT JOIN cg_modules mods ON u.val = concat('mod|', mods.module)
)
SELECT {sql_stable_id("edge", "'REFERS_TO'", _ast_id("t.file_id", "t.node_idx"), "t.dst")}
           AS edge_id,
       'REFERS_TO' AS edge_kind, {_ast_id("t.file_id", "t.node_idx")} AS src_node_id,
       t.dst AS dst_node_id, t.file_id, f.path, t.bstart, t.bend, {_ORIGIN} AS origin,
       MIN(t.method) AS resolution_method,
       1.0 / COUNT(*) OVER (PARTITION BY t.file_id, t.node_idx) AS confidence
FROM t JOIN repo_files f ON f.file_id = t.file_id
WHERE t.dst IS NOT NULL
GROUP BY t.file_id, f.path, t.node_idx, t.bstart, t.bend, t.dst
"""

# Every external name an output edge or use reaches, with how many reach it.
_EXTERNALS = f"""
SELECT qualname, COUNT(*) AS n_uses FROM (
    SELECT substr(target, 5) AS qualname FROM cg_call_targets WHERE target LIKE 'ext|%'
    UNION ALL
    SELECT substr(val, 5) FROM cg_import_targets WHERE val LIKE 'ext|%'
    UNION ALL
    SELECT substr(p.val, 5) FROM cg_class_bases b JOIN cg_pts p ON p.loc = b.loc
    WHERE p.val LIKE 'ext|%'
    UNION ALL
    SELECT concat('builtins.', name) FROM res_use_targets WHERE target_idx IS NULL
    UNION ALL
    SELECT substr(p.val, 5) FROM ast_attributes a
    JOIN cg_pts p ON p.loc = concat('x|', a.file_id, '|', CAST(a.node_idx AS VARCHAR))
    WHERE a.ctx = 'load' AND p.val LIKE 'ext|%'
    UNION ALL
    SELECT substr(p.val, 5) FROM res_uses u
    {_USE_COPY[0]}
    JOIN cg_pts p ON p.loc = {_USE_COPY[1]}
    WHERE p.val LIKE 'ext|%'
) x GROUP BY qualname
"""

_FIXPOINT = f"""
SELECT {sql_stable_id("diagnostic", "'callgraph_fixpoint'")} AS node_id,
       'DIAGNOSTIC' AS node_kind, CAST(NULL AS VARCHAR) AS file_id,
       CAST(NULL AS VARCHAR) AS path, CAST(NULL AS BIGINT) AS bstart,
       CAST(NULL AS BIGINT) AS bend, 'fixpoint_not_reached' AS name,
       CAST(NULL AS VARCHAR) AS qualname, {_ORIGIN} AS origin,
       COUNT(*) AS p__fresh_facts, {MAX_ITERATIONS} AS p__max_iterations
FROM cg_pts WHERE fresh
HAVING COUNT(*) > 0
"""


def _rules() -> tuple[SqlRuleSpec, ...]:
    rules = [
        SqlRuleSpec("cg_modules", _MODULES, "view", "files with their dotted module name"),
        SqlRuleSpec("cg_module_lookup", _MODULE_LOOKUP, "view", "importable name → module"),
        SqlRuleSpec("cg_defs", _DEFS, "view", "definitions with their value and scope"),
        SqlRuleSpec("cg_owner", _OWNER, "view", "the function or module a def's calls count for"),
        SqlRuleSpec("cg_params", _PARAMS, "view", "parameters with their variable"),
        SqlRuleSpec("cg_param_returns", _PARAM_RETURNS, "view", "parameters returned unchanged"),
        SqlRuleSpec("cg_imports", _IMPORTS, "view", "import aliases with resolved modules"),
        SqlRuleSpec("cg_import_seeds", _IMPORT_SEEDS, "view", "modules/externals imported"),
        SqlRuleSpec("cg_star_names", _STAR_NAMES, "view", "names a star import binds"),
        SqlRuleSpec("cg_copies", _COPIES, "view", "name reads: a copy of their variable"),
        SqlRuleSpec("cg_flow_static", _FLOW_STATIC, "view", "value flows known statically"),
        SqlRuleSpec("cg_seed_static", _SEED_STATIC, "view", "values known statically"),
        SqlRuleSpec("cg_call_sites", _CALL_SITES, "view", "calls and decorator applications"),
        SqlRuleSpec("cg_call_args", _CALL_ARGS, "view", "arguments of call sites"),
        SqlRuleSpec("cg_unpacked_args", _UNPACKED_ARGS, "view", "*x and **x arguments"),
        SqlRuleSpec("cg_decorator_factories", _DECORATOR_FACTORIES, "view", "@factory(...)"),
        SqlRuleSpec("cg_reflective", _REFLECTIVE, "view", "getattr/setattr by constant name"),
        SqlRuleSpec("cg_attr_loads", _ATTR_LOADS, "view", "attribute loads"),
        SqlRuleSpec("cg_attr_stores", _ATTR_STORES, "view", "attribute stores"),
        SqlRuleSpec("cg_const_keys", _CONST_KEYS, "view", "constant subscript keys"),
        SqlRuleSpec("cg_keyed_entries", _KEYED_ENTRIES, "view", "display entries by key"),
        SqlRuleSpec("cg_element_access", _ELEMENT_ACCESS, "view", "container element access"),
        SqlRuleSpec("cg_reorders", _REORDERS, "view", "receivers whose entries may move"),
        SqlRuleSpec("cg_iterations", _ITERATIONS, "view", "iterations"),
        SqlRuleSpec("cg_unpacking", _UNPACKING, "view", "elements of unpacking targets"),
        SqlRuleSpec("cg_with_items", _WITH_ITEMS, "view", "with items and the methods they call"),
        SqlRuleSpec("cg_type_alternatives", _TYPE_ALTERNATIVES, "view", "parts of A | B..."),
        SqlRuleSpec("cg_instance_of", _INSTANCE_OF, "view", "locations holding instances"),
        SqlRuleSpec("cg_class_bases", _CLASS_BASES, "view", "base expressions of classes"),
        SqlRuleSpec("cg_container_types", _CONTAINER_TYPES, "view", "builtin type of containers"),
        SqlRuleSpec("cg_container_methods", _CONTAINER_METHODS, "view", "attrs of those types"),
        SqlRuleSpec("cg_class_names", _CLASS_NAMES, "view", "names bound in class bodies"),
        SqlRuleSpec("cg_callbacks", _CALLBACKS, "view", "builtins that call an argument"),
    ]
    steps = (
        ("bases", _bases(_STEP)),
        ("mro", _mro(_STEP)),
        ("lookup", _lookup(_STEP)),
        ("external_base", _external_base(_STEP)),
        ("methods", _methods(_STEP)),
        ("callees", _callees(_STEP)),
        ("targets", _targets(_STEP)),
        ("args", _args(_STEP)),
        ("receivers", _receivers(_STEP)),
        ("conts", _conts(_STEP)),
        ("elements", _elements(_STEP)),
        ("protocol", _protocol(_STEP)),
        ("round", _round(_STEP)),
        ("flows", _flows(_STEP)),
        ("closed", _closure_step(_STEP)),
        ("next", _capped_step(_STEP.closed)),
    )
    rules += [
        SqlRuleSpec(
            "cg_pts",
            _seed_closure(),
            "view",
            "points-to relation, iterated to a fixpoint",
            steps=steps,
            max_iterations=MAX_ITERATIONS,
        ),
        SqlRuleSpec("cg_bases", _bases(_FINAL), "view", "base values of every class"),
        SqlRuleSpec("cg_mro", _mro(_FINAL), "view", "C3 MRO of every class"),
        SqlRuleSpec("cg_lookup", _lookup(_FINAL), "view", "attribute lookup through the MRO"),
        SqlRuleSpec("cg_external_base", _external_base(_FINAL), "view", "first external base"),
        SqlRuleSpec("cg_methods", _methods(_FINAL), "view", "functions bound in classes"),
        SqlRuleSpec("cg_callees", _callees(_FINAL), "view", "what each callee holds"),
        SqlRuleSpec("cg_targets", _targets(_FINAL), "view", "call targets of the fixpoint"),
        SqlRuleSpec("cg_protocol", _protocol(_FINAL), "view", "protocol calls of the fixpoint"),
        SqlRuleSpec("cg_call_targets", _FINAL_TARGETS, "view", "every call site and its targets"),
        SqlRuleSpec("cg_import_targets", _IMPORT_TARGETS, "view", "what each import reaches"),
        SqlRuleSpec(
            "cg_fixpoint",
            _FIXPOINT,
            "nodes",
            "DIAGNOSTIC when the fixpoint was not reached",
            props=("fresh_facts", "max_iterations"),
        ),
        SqlRuleSpec("cg_externals", _EXTERNALS, "view", "external names output edges reach"),
        SqlRuleSpec(
            "cg_calls", _CALLS, "edges", "call site → each possible target", props=("caller",)
        ),
        SqlRuleSpec(
            "cg_unresolved", _UNRESOLVED_NODES, "nodes", "UNRESOLVED callee", props=("n_sites",)
        ),
        SqlRuleSpec("cg_imports_edges", _IMPORTS_EDGES, "edges", "import → what it imports"),
        SqlRuleSpec("cg_inherits", _INHERITS, "edges", "class → base", props=("index",)),
        SqlRuleSpec("cg_refers_to", _CROSS_REFS, "edges", "use → definition in another file"),
    ]
    return tuple(rules)


RULES = _rules()
