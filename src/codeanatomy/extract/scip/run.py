"""Running scip-python on a repository: a mirror of the scanned files, limits, a log.

scip-python indexes every ``.py``/``.pyi`` under its working directory that pyright's
default excludes leave (and reads ``pyrightconfig.json``/``pyproject.toml`` found there
or above), which is not the file set the build scanned. It therefore runs on a *mirror*:
a temporary directory holding one symlink per scanned file, at the same relative path.
SCIP documents then have exactly the scanned paths, no file in the user's repository is
written, and neither git nor a commit is needed — outside a git work tree scip-python
only fails to infer a project version, which the run passes explicitly (``.``; together
with the project name ``.`` it keeps symbol strings independent of where the checkout
lives). ``--environment`` with an empty package list skips its ``pip list`` probe, which
would describe whatever interpreter happens to be on PATH.

Limits: a wall-clock timeout kills the whole process group; the memory cap is node's
``--max-old-space-size`` (the V8 heap, which is where pyright's memory goes). The log
(stdout and stderr) is kept under the build's artifacts.

Peak memory is node's ``VmHWM`` (``/proc/<pid>/status``), sampled while it runs:
``ru_maxrss`` from ``wait4`` would include the parent's memory image at ``exec`` time
(measured: 8.5 GiB reported for a node that never held half of it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codeanatomy.extract.scip.tool import Tool

DEFAULT_TIMEOUT_S = 900.0
DEFAULT_MEMORY_MB = 4096
PROJECT_NAME = "."
PROJECT_VERSION = "."
_PROGRESS_EVERY_S = "10"
# node exits with SIGABRT (134 as a shell reports it) when V8 reaches its heap cap.
_OOM_MARKERS = ("heap out of memory", "Reached heap limit")
_SAMPLE_EVERY_S = 0.2


@dataclass(frozen=True)
class ScipLimits:
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB


@dataclass(frozen=True)
class ProcessOutcome:
    """How the scip-python process ended."""

    status: str  # ok | timeout | out_of_memory | failed
    exit_code: int | None
    seconds: float
    max_rss_mib: float
    message: str


def make_mirror(repo: Path, paths: Sequence[str], mirror: Path) -> None:
    """One symlink per scanned file under ``mirror``, at its repo-relative path."""
    for rel in paths:
        link = mirror / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(repo / rel)
    (mirror / "environment.json").write_text("[]\n")


class ScipProcess:
    """A running scip-python (started at construction; :meth:`wait` reaps it)."""

    def __init__(
        self, node: Tool, scip: Tool, mirror: Path, output: Path, log: Path, limits: ScipLimits
    ) -> None:
        assert node.path is not None and scip.path is not None
        self.output = output
        self.log = log
        self._limits = limits
        command = [
            node.path,
            f"--max-old-space-size={limits.memory_mb}",
            scip.path,
            "index",
            "--cwd",
            str(mirror),
            "--output",
            str(output),
            "--project-name",
            PROJECT_NAME,
            "--project-version",
            PROJECT_VERSION,
            "--environment",
            str(mirror / "environment.json"),
            "--show-progress-rate-limit",
            _PROGRESS_EVERY_S,
        ]
        log.parent.mkdir(parents=True, exist_ok=True)
        self._started = time.perf_counter()
        with log.open("wb") as sink:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                cwd=mirror,
                start_new_session=True,  # its own process group: a timeout kills all of it
            )
        self._timed_out = threading.Event()
        self._timer = threading.Timer(limits.timeout_s, self._kill)
        self._timer.daemon = True
        self._timer.start()
        self._peak_kib = 0
        self._reaped = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        status = Path(f"/proc/{self._process.pid}/status")
        while not self._reaped.wait(_SAMPLE_EVERY_S):
            try:
                text = status.read_text()
            except OSError:
                return
            for line in text.splitlines():
                if line.startswith("VmHWM:"):
                    self._peak_kib = max(self._peak_kib, int(line.split()[1]))

    def _kill(self) -> None:
        self._timed_out.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)

    def abort(self) -> None:
        """Kill and reap the process if :meth:`wait` has not (the build stopped early)."""
        if self._process.returncode is None:
            self._timer.cancel()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            _, status = os.waitpid(self._process.pid, 0)
            self._reaped.set()
            self._process.returncode = os.waitstatus_to_exitcode(status)

    def wait(self) -> ProcessOutcome:
        """Reap the process (here, not through Popen) and say how it ended."""
        try:
            _, status = os.waitpid(self._process.pid, 0)
        finally:
            self._timer.cancel()
            self._reaped.set()
        seconds = time.perf_counter() - self._started
        code = os.waitstatus_to_exitcode(status)
        self._process.returncode = code  # reaped here; Popen must not wait again
        rss = self._peak_kib / 1024
        if self._timed_out.is_set():
            return ProcessOutcome(
                "timeout",
                code,
                seconds,
                rss,
                f"scip-python exceeded the {self._limits.timeout_s:g} s time limit and was killed",
            )
        if code == 0:
            return ProcessOutcome("ok", code, seconds, rss, "")
        tail = _tail(self.log)
        if any(marker in tail for marker in _OOM_MARKERS):
            return ProcessOutcome(
                "out_of_memory",
                code,
                seconds,
                rss,
                f"scip-python ran out of memory (node heap cap {self._limits.memory_mb} MiB)",
            )
        lines = [line for line in tail.splitlines() if line.strip()]
        errors = [line for line in lines if "Error" in line]
        last = (errors or lines or ["no output"])[-1].strip()
        return ProcessOutcome(
            "failed", code, seconds, rss, f"scip-python exited with {code}: {last[:300]}"
        )


def _tail(log: Path, size: int = 8192) -> str:
    try:
        with log.open("rb") as handle:
            handle.seek(max(0, log.stat().st_size - size))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
