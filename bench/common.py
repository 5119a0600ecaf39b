"""Shared pieces of the benchmarks: the stdlib corpus, the parse floor, peak RSS."""

from __future__ import annotations

import ast
import contextlib
import sysconfig
import threading
import time
from pathlib import Path
from types import TracebackType

import psutil

from codeanatomy.scan.discover import discover

# The interpreter's Lib without its test suites (site-packages is a default exclude).
STDLIB = Path(sysconfig.get_path("stdlib"))
STDLIB_EXCLUDES = ("test/", "tests/", "idle_test/")


def stdlib_corpus() -> tuple[Path, list[str]]:
    return STDLIB, discover(STDLIB, exclude=STDLIB_EXCLUDES).paths


def parse_floor(root: Path, paths: list[str]) -> tuple[float, int]:
    """Seconds for one process to read and ``ast.parse`` every file; lines read."""
    started = time.perf_counter()
    lines = 0
    for rel in paths:
        data = (root / rel).read_bytes()
        lines += data.count(b"\n")
        with contextlib.suppress(SyntaxError, ValueError, RecursionError):
            ast.parse(data)
    return time.perf_counter() - started, lines


class PeakRss:
    """Peak resident memory of this process and all its descendants, summed (sampled)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.peak = 0
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)
            self._stop.wait(self._interval)
