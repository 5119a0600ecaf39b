"""SCIP symbol strings → the parts CodeAnatomy shows (package, descriptors, qualname).

Grammar (SCIP ``Symbol``): ``local <id>`` for a document-local symbol, else
``<scheme> <manager> <package> <version> <descriptor>+``; the four header fields escape a
space as two spaces (a lone ``.`` stands for an empty field). A descriptor is a name
followed by its suffix: ``/`` namespace, ``#`` type, ``.`` term, ``:`` meta, ``!`` macro,
``(<disambiguator>).`` method, or a name inside ``[...]`` (type parameter) or ``(...)``
(parameter). A name outside ``[_+-$a-zA-Z0-9]`` is backquoted, a backquote doubled.

scip-python writes a module as one namespace (```pkg.mod`/``), the module itself as the
meta ``__init__:`` under it, so the dotted qualname of ```pkg.mod`/C#run().`` is
``pkg.mod.C.run`` and that of ```pkg.mod`/__init__:`` is ``pkg.mod``.
"""

from __future__ import annotations

from dataclasses import dataclass

_SIMPLE = frozenset("_+-$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_SUFFIXES = {"/": "namespace", "#": "type", ".": "term", ":": "meta", "!": "macro"}


class SymbolSyntaxError(ValueError):
    """A symbol string that does not follow the SCIP grammar."""


@dataclass(frozen=True)
class ParsedSymbol:
    """What a SCIP symbol string says."""

    is_local: bool
    scheme: str | None
    manager: str | None
    package: str | None
    version: str | None
    descriptors: tuple[tuple[str, str], ...]  # (name, suffix kind)

    @property
    def qualname(self) -> str | None:
        """Dotted name over the descriptors (the module meta ``__init__`` dropped)."""
        names = [
            name for name, kind in self.descriptors if not (kind == "meta" and name == "__init__")
        ]
        return ".".join(names) if names else None

    @property
    def name(self) -> str | None:
        """The last descriptor's name (a module's: its dotted name)."""
        if not self.descriptors:
            return None
        last, kind = self.descriptors[-1]
        if kind == "meta" and last == "__init__" and len(self.descriptors) > 1:
            return self.descriptors[-2][0]
        return last

    @property
    def suffix(self) -> str:
        """``local`` or the last descriptor's kind (``method``, ``type``, ``parameter``...)."""
        if self.is_local:
            return "local"
        return self.descriptors[-1][1] if self.descriptors else "none"


def parse_symbol(symbol: str) -> ParsedSymbol:
    """Parse one symbol string (raises :class:`SymbolSyntaxError`)."""
    if symbol.startswith("local "):
        return ParsedSymbol(True, None, None, None, None, ())
    pos = 0
    header: list[str] = []
    for _ in range(4):
        field, pos = _header_field(symbol, pos)
        header.append("" if field == "." else field)
    descriptors: list[tuple[str, str]] = []
    while pos < len(symbol):
        descriptor, pos = _descriptor(symbol, pos)
        descriptors.append(descriptor)
    if not descriptors:
        raise SymbolSyntaxError(f"symbol without descriptors: {symbol!r}")
    scheme, manager, package, version = header
    return ParsedSymbol(False, scheme, manager, package, version, tuple(descriptors))


def _header_field(symbol: str, pos: int) -> tuple[str, int]:
    chars: list[str] = []
    while pos < len(symbol):
        char = symbol[pos]
        if char == " ":
            if symbol.startswith("  ", pos):
                chars.append(" ")
                pos += 2
                continue
            return "".join(chars), pos + 1
        chars.append(char)
        pos += 1
    raise SymbolSyntaxError(f"symbol ends inside its header: {symbol!r}")


def _descriptor(symbol: str, pos: int) -> tuple[tuple[str, str], int]:
    char = symbol[pos]
    if char in "[(":
        close = "]" if char == "[" else ")"
        name, pos = _name(symbol, pos + 1)
        _expect(symbol, pos, close)
        return (name, "type_parameter" if char == "[" else "parameter"), pos + 1
    name, pos = _name(symbol, pos)
    if pos >= len(symbol):
        raise SymbolSyntaxError(f"descriptor without suffix: {symbol!r}")
    suffix = symbol[pos]
    if suffix == "(":
        end = symbol.find(").", pos)
        if end < 0:
            raise SymbolSyntaxError(f"unterminated method descriptor: {symbol!r}")
        return (name, "method"), end + 2
    if suffix not in _SUFFIXES:
        raise SymbolSyntaxError(f"unknown descriptor suffix {suffix!r} in {symbol!r}")
    return (name, _SUFFIXES[suffix]), pos + 1


def _name(symbol: str, pos: int) -> tuple[str, int]:
    if pos < len(symbol) and symbol[pos] == "`":
        chars: list[str] = []
        pos += 1
        while pos < len(symbol):
            if symbol[pos] == "`":
                if symbol.startswith("``", pos):
                    chars.append("`")
                    pos += 2
                    continue
                return "".join(chars), pos + 1
            chars.append(symbol[pos])
            pos += 1
        raise SymbolSyntaxError(f"unterminated backquoted name: {symbol!r}")
    start = pos
    while pos < len(symbol) and symbol[pos] in _SIMPLE:
        pos += 1
    if pos == start:
        raise SymbolSyntaxError(f"empty descriptor name at {start} in {symbol!r}")
    return symbol[start:pos], pos


def _expect(symbol: str, pos: int, char: str) -> None:
    if pos >= len(symbol) or symbol[pos] != char:
        raise SymbolSyntaxError(f"expected {char!r} at {pos} in {symbol!r}")
