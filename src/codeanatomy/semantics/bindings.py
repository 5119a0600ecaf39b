"""The run's one dataset resolver: where every evidence and output table lives.

The semantic manifest's :class:`DatasetBinding` list is the only declaration of dataset
locations. A :class:`DatasetResolver` is built from it once per run and threaded by
identity through registration (evidence is read from ``path(name)``) and execution
(outputs are written to ``path(name)``), so no subsystem composes ``out / name`` on its
own and a second, disagreeing location cannot appear.

Intermediate views that execution spills to Delta are not datasets of the program; they
are staged under :data:`STAGING_DIR` in the output root, the one directory that holds
every output binding, so staging follows the outputs wherever the bindings put them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from codeanatomy.semantics.compiler import DatasetBinding, SemanticProgramManifest

STAGING_DIR = "_staging"
Role = Literal["evidence", "output"]


class UnknownDatasetError(KeyError):
    """A dataset name with no binding in the run's manifest."""


class DatasetResolver:
    """Immutable name → path map of one run, with each dataset's role.

    Equality is identity (no ``__eq__``): two resolvers with the same bindings are still
    two resolvers, which is what the one-resolver-per-run invariant checks.
    """

    __slots__ = ("_paths", "_roles")

    _paths: Mapping[str, Path]
    _roles: Mapping[str, Role]

    def __init__(self, bindings: Iterable[DatasetBinding]) -> None:
        paths: dict[str, Path] = {}
        roles: dict[str, Role] = {}
        for binding in bindings:
            if binding.name in paths:
                raise ValueError(f"dataset {binding.name!r} is bound twice")
            paths[binding.name] = Path(binding.path)
            roles[binding.name] = binding.role
        clashes = sorted(str(p) for p, n in Counter(paths.values()).items() if n > 1)
        if clashes:
            raise ValueError(f"several datasets bound to the same path: {clashes}")
        object.__setattr__(self, "_paths", MappingProxyType(dict(sorted(paths.items()))))
        object.__setattr__(self, "_roles", MappingProxyType(dict(sorted(roles.items()))))

    @classmethod
    def from_manifest(cls, manifest: SemanticProgramManifest) -> DatasetResolver:
        """The resolver of the run that compiled ``manifest`` (build it once, pass it on)."""
        return cls(manifest.bindings)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __repr__(self) -> str:
        return f"DatasetResolver({dict(self._paths)!r})"

    def path(self, name: str) -> Path:
        """Where dataset ``name`` lives; an unbound name raises :class:`UnknownDatasetError`."""
        try:
            return self._paths[name]
        except KeyError:
            raise UnknownDatasetError(f"no dataset bound as {name!r}") from None

    def role(self, name: str) -> Role:
        self.path(name)
        return self._roles[name]

    def evidence_names(self) -> tuple[str, ...]:
        """Names of the evidence tables, sorted."""
        return self._names("evidence")

    def output_names(self) -> tuple[str, ...]:
        """Names of the output tables, sorted."""
        return self._names("output")

    def staging_path(self, name: str) -> Path:
        """Where an intermediate view is spilled: ``<output root>/_staging/<name>``.

        A bound dataset is never staged (it has its own path), so a name clash raises.
        """
        if name in self._paths:
            raise ValueError(f"{name!r} is a bound dataset, not an intermediate to stage")
        return self.output_root() / STAGING_DIR / name

    def output_root(self) -> Path:
        """The one directory every output binding sits in (staging goes under it)."""
        parents = {self._paths[name].parent for name in self.output_names()}
        if len(parents) != 1:
            raise ValueError(
                f"output datasets must share one parent directory, found {sorted(parents)}"
            )
        return parents.pop()

    def _names(self, role: Role) -> tuple[str, ...]:
        return tuple(name for name, bound in self._roles.items() if bound == role)
