"""The SCIP fixture repository: a small git work tree with non-ASCII identifiers and lines.

Written byte for byte (emoji, accented identifiers, a BOM, a latin-1 coding cookie, CRLF
line ends) so the UTF-16 → byte conversion is checked where it can go wrong.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

MOD = '''def café(x):
    """Doc."""
    return x


y = café(1)  # 😀 after the call
z = "😀😀"; w = café(y)


class Ärger:
    a = 1

    def m(self, n):
        return self.a + n


class Sub(Ärger):
    def m(self, n):
        return n
'''

MAIN = """import os
from pkg.mod import café, Ärger

print(café(2), os.sep)
Ärger().m(1)
try:
    café(3)
except (ValueError, KeyError) as err:
    print(err)
"""

FILES: dict[str, bytes] = {
    "pkg/__init__.py": b"",
    "pkg/mod.py": MOD.encode(),
    "main.py": MAIN.encode(),
    "bom.py": b"\xef\xbb\xbf" + "été = 1\nprint(été)\n".encode(),
    "latin1.py": "# -*- coding: latin-1 -*-\nnaïve = 'crème'\nprint(naïve)\n".encode("latin-1"),
    "crlf.py": "ü = 1\r\nprint(ü)\r\n".encode(),
}


def write_scip_repo(root: Path, *, git: bool = True) -> Path:
    """Write the files under ``root`` and (by default) commit them in a new git repository."""
    for rel, data in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    if git:
        run = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        subprocess.run([*run, "-C", str(root), "add", "-A"], check=True)
        subprocess.run([*run, "-C", str(root), "commit", "-q", "-m", "fixture"], check=True)
    return root
