"""Where scip-python and its runtime are, and which versions they are.

scip-python is an npm package, installed by ``scripts/install_tools`` into the project's
own ``tools/`` directory (pinned in ``tools/package.json`` and its lock file; never a
global install). It runs as ``node <package>/index.js`` so the build can pass node's heap
cap. ``CODEANATOMY_TOOLS_DIR`` points at another tools directory (an installed wheel has
no project tree next to it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

TOOLS_ENV = "CODEANATOMY_TOOLS_DIR"
SCIP_PACKAGE = "@sourcegraph/scip-python"
_VERSION_TIMEOUT_S = 20.0


def tools_dir() -> Path:
    """The tools directory: ``$CODEANATOMY_TOOLS_DIR`` or ``tools/`` of the project tree."""
    override = os.environ.get(TOOLS_ENV)
    if override:
        return Path(override)
    # src/codeanatomy/extract/scip/tool.py -> the project root is four levels up
    return Path(__file__).resolve().parents[4] / "tools"


@dataclass(frozen=True)
class Tool:
    """One external program: where it is and its version, or why it is unusable."""

    name: str
    path: str | None
    version: str | None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class Toolchain:
    node: Tool
    npm: Tool
    scip_python: Tool

    @property
    def tools(self) -> tuple[Tool, ...]:
        return (self.node, self.npm, self.scip_python)


def find_node() -> Tool:
    return _executable("node")


def find_scip_python(directory: Path | None = None) -> Tool:
    """scip-python's entry script under the tools directory, with its package version."""
    package = (directory or tools_dir()) / "node_modules" / SCIP_PACKAGE
    entry = package / "index.js"
    if not entry.is_file():
        return Tool(
            "scip-python",
            None,
            None,
            f"scip-python not installed under {package.parent.parent.parent} "
            "(run scripts/install_tools)",
        )
    try:
        version = str(json.loads((package / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError) as exc:
        return Tool("scip-python", str(entry), None, f"unreadable package.json: {exc}")
    return Tool("scip-python", str(entry), version)


def toolchain() -> Toolchain:
    """node, npm and scip-python as found now (what ``codeanatomy doctor`` reports)."""
    return Toolchain(find_node(), _executable("npm"), find_scip_python())


def _executable(name: str) -> Tool:
    path = shutil.which(name)
    if path is None:
        return Tool(name, None, None, f"{name} not found on PATH")
    try:
        done = subprocess.run(
            [path, "--version"],
            capture_output=True,
            text=True,
            timeout=_VERSION_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Tool(name, path, None, f"{name} --version failed: {exc}")
    if done.returncode != 0:
        return Tool(name, path, None, f"{name} --version exited {done.returncode}")
    return Tool(name, path, done.stdout.strip().removeprefix("v"))
