"""The one stable-id function.

Every id in CodeAnatomy (files, nodes, edges) is ``<namespace>:<hex>`` where ``hex`` is the
first 24 hex digits of SHA-256 over the namespace and the parts joined by U+001F. The same
recipe is expressible inside a DataFusion plan (``digest``/``concat_ws``), which is why the
parts are restricted to strings and integers whose text form is identical in both worlds.
"""

from __future__ import annotations

import hashlib

ID_SEPARATOR = "\x1f"
ID_HEX_DIGITS = 24


def stable_id(namespace: str, *parts: str | int) -> str:
    """Return the stable id of ``parts`` within ``namespace``."""
    for part in parts:
        if isinstance(part, bool) or not isinstance(part, str | int):
            raise TypeError(f"id parts must be str or int, got {type(part).__name__}")
    payload = ID_SEPARATOR.join([namespace, *(str(p) for p in parts)])
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    return f"{namespace}:{digest[:ID_HEX_DIGITS]}"


def file_id_for(relpath: str) -> str:
    """Id of a file from its repo-relative POSIX path (moving a checkout keeps ids)."""
    return stable_id("file", relpath)
