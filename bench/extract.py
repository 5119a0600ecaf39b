"""Benchmark: evidence extraction of the stdlib corpus against the parse floor.

Prints the parse floor (one process reading and ``ast.parse``-ing the same files),
the build's wall time and its ratio to the floor, rows per second, worker seconds per
layer and the peak RSS of the whole process tree. Target: ≤ 6x the floor, ≤ 1 GiB.

    python -m uv run python bench/extract.py [--jobs N] [--layers default]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import STDLIB_EXCLUDES, PeakRss, parse_floor, stdlib_corpus
from codeanatomy.build import BuildOptions, build, default_jobs

TARGET_RATIO = 6.0
TARGET_RSS_MIB = 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--layers", default="default")
    args = parser.parse_args()

    root, paths = stdlib_corpus()
    floor, lines = parse_floor(root, paths)
    with tempfile.TemporaryDirectory() as tmp, PeakRss() as rss:
        started = time.perf_counter()
        manifest = build(
            BuildOptions(
                repo=root,
                out=Path(tmp),
                layers=args.layers,
                jobs=args.jobs,
                exclude=STDLIB_EXCLUDES,
            )
        )
        wall = time.perf_counter() - started
    rows = sum(t.rows for t in manifest.tables)
    ratio = wall / floor
    peak_mib = rss.peak / 2**20
    print(
        f"corpus: {root} ({len(paths)} files, {lines:,} lines), jobs={args.jobs}, "
        f"layers={args.layers}"
    )
    print(f"parse floor (1 process, read + ast.parse): {floor:8.2f} s")
    print(
        f"extraction (build, wall):                 {wall:8.2f} s  = {ratio:.2f}x floor "
        f"(target <= {TARGET_RATIO:.0f}x: {'met' if ratio <= TARGET_RATIO else 'NOT met'})"
    )
    print(f"rows: {rows:,} in {len(manifest.tables)} tables, {rows / wall:,.0f} rows/s")
    print(
        f"peak RSS (all processes): {peak_mib:,.0f} MiB "
        f"(target <= {TARGET_RSS_MIB} MiB: {'met' if peak_mib <= TARGET_RSS_MIB else 'NOT met'})"
    )
    print("stages: " + ", ".join(f"{k} {v:.2f}s" for k, v in manifest.seconds_by_stage.items()))
    print(
        "worker seconds by layer: "
        + ", ".join(f"{k} {v:.2f}" for k, v in manifest.worker_seconds_by_layer.items())
    )
    print(
        "errors by layer: "
        + (", ".join(f"{k} {v}" for k, v in manifest.errors_by_layer.items()) or "none")
    )
    for table in manifest.tables:
        if table.rows:
            print(f"  {table.name:<22} {table.rows:>10,}")


if __name__ == "__main__":
    main()
