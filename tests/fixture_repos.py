"""Fixture repositories written byte-for-byte by the tests (no git line-ending surprises).

``write_messy_repo`` lays out a small package that exercises the extractors (relative
imports, classes, decorators, async code, lambdas, comprehensions, closures) next to every
kind of bad input the build must survive.
"""

from __future__ import annotations

import random
from pathlib import Path

PKG_INIT = '''"""The sample package."""
from .core import Base, Derived, make_adder
from . import sub

__all__ = ["Base", "Derived", "make_adder", "sub"]
VERSION = (1, 2)
'''

PKG_CORE = '''"""Core definitions."""
from __future__ import annotations

import functools
import os.path as osp
from typing import Callable


def trace(func: Callable[..., int]) -> Callable[..., int]:
    """Decorator that returns a wrapper."""

    @functools.wraps(func)
    def wrapper(*args: int, **kwargs: int) -> int:
        return func(*args, **kwargs)

    return wrapper


class Base:
    """A base class."""

    count: int = 0

    def __init__(self, name: str, *, size: int = 3) -> None:
        self.name = name
        self.size = size

    @property
    def label(self) -> str:
        return f"{self.name}:{self.size}"

    @staticmethod
    def helper(x, /, y=2, *rest, flag=False, **extra):
        return [x * y for x in rest if x] + [len(extra)]


class Derived(Base):
    @trace
    def run(self, n: int) -> int:
        total = sum(i * i for i in range(n))
        squares = {k: k**2 for k in range(n)}
        key = lambda item: item[1]  # noqa: E731
        ordered = sorted(squares.items(), key=key)
        self.helper(1, 2, 3, flag=True)
        return total + len(ordered)


def make_adder(k: int) -> Callable[[int], int]:
    def add(v: int) -> int:
        return v + k

    return add


async def fetch(urls: list[str]) -> list[str]:
    results = []
    async for chunk in stream(urls):
        results.append(chunk)
    async with lock() as held:
        await held.wait()
    return [osp.basename(u) for u in results]


async def stream(urls):
    for u in urls:
        yield u


def lock():
    raise NotImplementedError("no lock here")


adder = make_adder(2)
VALUE = adder(40)
'''

SUB_INIT = """from .helpers import *  # noqa: F403
from . import helpers as h
"""

SUB_HELPERS = """from ..core import Base as B, make_adder
from .. import core

__all__ = ["shout", "Widget"]


def shout(text: str) -> str:
    return text.upper() + "!"


class Widget(B):
    def __init__(self) -> None:
        super().__init__("widget")
        self.add = make_adder(1)

    def grow(self) -> int:
        return self.add(core.VALUE)
"""

STUB = """def stubbed(x: int) -> str: ...
class Stubbed:
    attr: int
"""

SYNTAX_ERROR = b"""def fine():
    return 1


class Broken:
    def method(self:
        return 2


def after():
    return 3
"""

LATIN1_COOKIE = (
    "# -*- coding: latin-1 -*-\n"
    '"""Module d\u00e9j\u00e0 encod\u00e9 en latin-1."""\n'
    "def caf\u00e9(na\u00efve='cr\u00e8me'):\n"
    "    s = '\u00e9\u00e9'; y = caf\u00e9\n"
    "    return na\u00efve + s\n"
    "r\u00e9sultat = caf\u00e9()\n"
).encode("latin-1")

BOM_UTF8 = b"\xef\xbb\xbf" + (
    "\u00e9t\u00e9 = 'summer \u2600\ufe0f'\n"
    "def gr\u00f6\u00dfe(\u03c0=3.14):\n"
    "    return \u03c0 * 2  # \U0001f600 emoji\n"
    "class \u00c4rger:\n"
    "    \u540d\u524d = gr\u00f6\u00dfe()\n"
).encode("utf-8")

CRLF = (
    b"import os\r\n\r\ndef crlf(a, b):\r\n    return os.path.join(a, b)\r\n\r\n"
    b"x = crlf('a', 'b')\r\n"
)

TABS = b"class T:\n\tdef m(self):\n\t\tif self:\n\t\t\treturn 1\n\t\treturn 2\n"

NUL_BYTE = b"x = 1\n\x00y = 2\n"

DEEP_NESTING_DEPTH = 3000


def deep_nesting_source() -> bytes:
    """A 3000-deep nested expression (a chain of binary operators)."""
    return b"value = 1" + b" + 1" * DEEP_NESTING_DEPTH + b"\n"


def random_bytes() -> bytes:
    rng = random.Random(20261123)
    return bytes(rng.randrange(256) for _ in range(4096)).replace(b"\x00", b"\x01") + b"\x00\xff"


GOOD_FILES = (
    "pkg/__init__.py",
    "pkg/core.py",
    "pkg/sub/__init__.py",
    "pkg/sub/helpers.py",
    "pkg/stubs.pyi",
    "latin1_cookie.py",
    "bom_utf8.py",
    "crlf.py",
    "tabs.py",
    "empty.py",
)
BAD_FILES = ("broken_syntax.py", "random_bytes.py", "nul_byte.py", "deep_nesting.py")
IGNORED_FILES = (
    "ignored_dir/skip.py",
    "gen.generated.py",
    ".venv/lib/site.py",
    "node_modules/pkg/x.py",
    "__pycache__/cached.py",
    "build/out.py",
)


def write_messy_repo(root: Path) -> Path:
    """Write the fixture repository under ``root`` and return ``root``."""
    files: dict[str, bytes] = {
        "pkg/__init__.py": PKG_INIT.encode(),
        "pkg/core.py": PKG_CORE.encode(),
        "pkg/sub/__init__.py": SUB_INIT.encode(),
        "pkg/sub/helpers.py": SUB_HELPERS.encode(),
        "pkg/stubs.pyi": STUB.encode(),
        "latin1_cookie.py": LATIN1_COOKIE,
        "bom_utf8.py": BOM_UTF8,
        "crlf.py": CRLF,
        "tabs.py": TABS,
        "empty.py": b"",
        "broken_syntax.py": SYNTAX_ERROR,
        "random_bytes.py": random_bytes(),
        "nul_byte.py": NUL_BYTE,
        "deep_nesting.py": deep_nesting_source(),
        "README.txt": b"not python\n",
        ".gitignore": b"ignored_dir/\n*.generated.py\n",
        "ignored_dir/skip.py": b"x = 1\n",
        "gen.generated.py": b"x = 1\n",
        ".venv/pyvenv.cfg": b"home = /usr\n",
        ".venv/lib/site.py": b"x = 1\n",
        "node_modules/pkg/x.py": b"x = 1\n",
        "__pycache__/cached.py": b"x = 1\n",
        "build/out.py": b"x = 1\n",
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root
