"""Find the Python files of a repository.

Rules, in order, for every directory entry below the root:

1. default excludes: VCS and tool caches anywhere (``.git``, ``__pycache__``,
   ``node_modules``, ``site-packages``, ...), any directory holding a ``pyvenv.cfg``
   (a virtualenv whatever its name), and ``build/`` / ``dist/`` at the repository root
   only (``src/build`` may be a real package);
2. ``.gitignore`` files at every level and ``.git/info/exclude``, with git's semantics
   (pathspec's ``GitIgnoreSpec``; a deeper file overrides a shallower one);
3. ``--exclude`` globs (gitignore syntax) remove, ``--include`` globs (if any) must match;
4. symlinks are followed only when their target stays inside the root (a link to a
   directory is scanned under the link's path too, as an importer would see it); a link
   back to one of its own ancestors is a loop and is reported, not followed.

Files ending in ``.py`` or ``.pyi`` are kept. Problems (unreadable directories, links out
of the root, loops) are reported, never raised.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

SUFFIXES = (".py", ".pyi")
EXCLUDED_ANYWHERE = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        "node_modules",
        "site-packages",
        "dist-packages",
        ".tox",
        ".nox",
        ".venv",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".eggs",
        ".ipynb_checkpoints",
    }
)
EXCLUDED_AT_ROOT = frozenset({"build", "dist"})


@dataclass(frozen=True)
class ScanIssue:
    """Something below the root that was not scanned, and why."""

    path: str
    kind: str
    message: str


@dataclass
class Discovery:
    """The outcome of a scan: repo-relative POSIX paths and the issues met."""

    paths: list[str] = field(default_factory=list)
    issues: list[ScanIssue] = field(default_factory=list)
    excluded: int = 0


@dataclass(frozen=True)
class _IgnoreScope:
    base: str  # repo-relative directory of the .gitignore, "" for the root
    spec: pathspec.GitIgnoreSpec


def discover(
    root: Path,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    use_gitignore: bool = True,
) -> Discovery:
    """Scan ``root`` and return the Python files to extract, sorted by path."""
    root = root.resolve()
    include_spec = pathspec.GitIgnoreSpec.from_lines(include) if include else None
    exclude_spec = pathspec.GitIgnoreSpec.from_lines(exclude) if exclude else None
    result = Discovery()
    base_scopes: list[_IgnoreScope] = []
    if use_gitignore:
        info_exclude = root / ".git" / "info" / "exclude"
        scope = _load_ignore(info_exclude, "", result)
        if scope is not None:
            base_scopes.append(scope)
    stack: list[tuple[Path, str, list[_IgnoreScope], frozenset[tuple[int, int]]]] = [
        (root, "", base_scopes, frozenset())
    ]
    while stack:
        directory, rel_dir, scopes, ancestors = stack.pop()
        try:
            stat = directory.stat()
        except OSError as exc:
            result.issues.append(ScanIssue(rel_dir or ".", "unreadable_dir", str(exc)))
            continue
        key = (stat.st_dev, stat.st_ino)
        if key in ancestors:
            result.issues.append(
                ScanIssue(rel_dir, "symlink_loop", "symlink to one of its own ancestors")
            )
            continue
        ancestors = ancestors | {key}
        if use_gitignore:
            scope = _load_ignore(directory / ".gitignore", rel_dir, result)
            if scope is not None:
                scopes = [*scopes, scope]
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            result.issues.append(ScanIssue(rel_dir or ".", "unreadable_dir", str(exc)))
            continue
        subdirs: list[tuple[Path, str]] = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            is_link = entry.is_symlink()
            if is_link and not _inside(root, Path(entry.path)):
                result.issues.append(
                    ScanIssue(rel, "symlink_outside_root", "symlink target is outside the root")
                )
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                if _excluded_dir(entry, rel_dir) or _ignored(rel + "/", scopes, exclude_spec):
                    result.excluded += 1
                    continue
                subdirs.append((Path(entry.path), rel))
            elif entry.name.endswith(SUFFIXES):
                if _ignored(rel, scopes, exclude_spec) or (
                    include_spec is not None and not include_spec.match_file(rel)
                ):
                    result.excluded += 1
                    continue
                result.paths.append(rel)
        stack.extend((path, rel, scopes, ancestors) for path, rel in reversed(subdirs))
    result.paths.sort()
    return result


def _excluded_dir(entry: os.DirEntry[str], rel_dir: str) -> bool:
    if entry.name in EXCLUDED_ANYWHERE or entry.name.endswith(".egg-info"):
        return True
    if not rel_dir and entry.name in EXCLUDED_AT_ROOT:
        return True
    return Path(entry.path, "pyvenv.cfg").is_file()


def _ignored(
    rel: str, scopes: Iterable[_IgnoreScope], exclude_spec: pathspec.GitIgnoreSpec | None
) -> bool:
    if exclude_spec is not None and exclude_spec.match_file(rel):
        return True
    for scope in reversed(list(scopes)):
        local = rel[len(scope.base) + 1 :] if scope.base else rel
        verdict = scope.spec.check_file(local).include
        if verdict is not None:
            return bool(verdict)
    return False


def _load_ignore(path: Path, base: str, result: Discovery) -> _IgnoreScope | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return None
    except OSError as exc:
        result.issues.append(ScanIssue(str(path), "unreadable_ignore_file", str(exc)))
        return None
    return _IgnoreScope(base, pathspec.GitIgnoreSpec.from_lines(lines))


def _inside(root: Path, path: Path) -> bool:
    try:
        return Path(os.path.realpath(path)).is_relative_to(root)
    except OSError:
        return False
