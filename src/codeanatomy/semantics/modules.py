"""Dotted module names of files: the one definition every view uses.

A file's *canonical* name is its path relative to the analysed root, ``/`` → ``.``,
without ``.py`` and without a trailing ``__init__`` (``pkg/__init__.py`` is ``pkg``,
``main.py`` at the root is ``main``); a leading ``src/`` directory that is not itself a
package is dropped (src layout). Qualnames in the CPG and the call-graph export use it.

Python finds a module under other names too when a directory deeper than the root is on
``sys.path``: a script's own directory, or the directory above a package tree
(``lib/pkg/mod.py`` is ``pkg.mod`` with ``lib`` on the path). ``MODULE_ALIASES_SQL`` lists,
per file, the name relative to its *import root* — the deepest ancestor directory that
has no ``__init__.py`` — so imports written for several roots in one repository resolve.
"""

from __future__ import annotations

_SRC_LAYOUT = "CASE WHEN r.path LIKE 'src/%' AND s.n = 0 THEN substr(r.path, 5) ELSE r.path END"

MODULE_NAMES_SQL = f"""
SELECT r.file_id, r.path,
       replace(regexp_replace({_SRC_LAYOUT}, '(/__init__)?\\.pyi?$', ''), '/', '.') AS module,
       r.path LIKE '%__init__.py' OR r.path LIKE '%__init__.pyi' AS is_package
FROM repo_files r
CROSS JOIN (SELECT COUNT(*) AS n FROM repo_files WHERE path = 'src/__init__.py') s
"""
"""file_id, path, module (canonical dotted name), is_package — over ``repo_files``."""

MODULE_ALIASES_SQL = """
WITH files AS (
    SELECT file_id, path, string_to_array(path, '/') AS parts
    FROM repo_files WHERE path LIKE '%.py'
),
package_dirs AS (
    SELECT DISTINCT regexp_replace(path, '/?__init__\\.py$', '') AS dir
    FROM repo_files WHERE path LIKE '%__init__.py'
),
prefixes AS (
    SELECT file_id, path, parts, k,
           array_to_string(array_slice(parts, 1, k), '/') AS dir
    FROM (
        SELECT file_id, path, parts,
               unnest(generate_series(0, CAST(cardinality(parts) AS BIGINT) - 1)) AS k
        FROM files
    ) expanded
),
roots AS (
    SELECT p.file_id, p.path, p.parts, MAX(p.k) AS root_k
    FROM prefixes p LEFT JOIN package_dirs d ON d.dir = p.dir
    WHERE d.dir IS NULL
    GROUP BY p.file_id, p.path, p.parts
)
SELECT file_id,
       replace(regexp_replace(
           array_to_string(array_slice(parts, root_k + 1, CAST(cardinality(parts) AS BIGINT)), '/'),
           '(/__init__)?\\.py$', ''), '/', '.') AS alias
FROM roots
"""
"""file_id, alias — the file's module name relative to its import root."""
