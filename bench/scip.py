"""Benchmark: the SCIP layer on the stdlib corpus — its cost and its agreement with ours.

Steps (printed as they finish, ``--jobs`` workers each):

1. evidence of the default layers (``build``), then of ``default,scip``: the difference
   is what the layer adds before the graph — scip-python itself overlaps the per-file
   extraction; its own wall time and peak RSS come from ``wait4`` on its process;
2. the graph over the ``default,scip`` evidence (``prepare`` + ``execute``): seconds of
   the SCIP views (those ``scip_rules`` defines; a view kept lazy is paid for by its
   readers, the output views) and of the agreement query, with the agreement itself;
3. with ``--baseline-graph``, the graph over the default evidence too, so the added graph
   time is measured as a difference rather than summed over SCIP views.

    python -m uv run python -m bench.scip [--jobs N] [--baseline-graph]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.common import STDLIB_EXCLUDES, PeakRss, stdlib_corpus
from codeanatomy.build import BuildOptions, build
from codeanatomy.execute.runner import execute
from codeanatomy.extract.scip.layer import ScipAgreement, ScipRunInfo
from codeanatomy.pipeline import prepare
from codeanatomy.plan.session import new_session
from codeanatomy.semantics.callgraph import RULES as CALLGRAPH_RULES
from codeanatomy.semantics.resolution import RULES as RESOLUTION_RULES
from codeanatomy.semantics.scip_mapping import scip_agreement, scip_rules

TARGET_AGREEMENT = 0.99
SCIP_VIEWS = frozenset(rule.name for rule in scip_rules((*RESOLUTION_RULES, *CALLGRAPH_RULES)))


def _evidence(root: Path, out: Path, layers: str, args: argparse.Namespace) -> float:
    options = BuildOptions(
        repo=root,
        out=out,
        layers=layers,
        jobs=args.jobs,
        exclude=STDLIB_EXCLUDES,
        scip_timeout_s=args.timeout,
        scip_memory_mb=args.memory_mb,
    )
    with PeakRss() as rss:
        started = time.perf_counter()
        manifest = build(options)
        wall = time.perf_counter() - started
    stages = ", ".join(f"{k} {v:.2f}s" for k, v in manifest.seconds_by_stage.items())
    print(f"evidence {layers}: {wall:.2f} s ({stages}), peak RSS {rss.peak / 2**20:,.0f} MiB")
    if manifest.scip is not None:
        _print_run(manifest.scip)
    return wall


def _graph(out: Path, label: str, with_agreement: bool) -> float:
    ctx = new_session()
    with PeakRss() as rss:
        started = time.perf_counter()
        program = prepare(ctx, out)
        views = {v.name: v for v in program.views}
        report = execute(
            ctx, views, program.schedule, program.policy, program.planned.deps, program.datasets
        )
        wall = time.perf_counter() - started
    scip_seconds = sum(v.seconds for v in report.views if v.view in SCIP_VIEWS)
    print(
        f"graph {label}: {wall:.2f} s (prepare {sum(program.seconds_by_stage.values()):.2f} s),"
        f" SCIP views {scip_seconds:.2f} s, peak RSS {rss.peak / 2**20:,.0f} MiB"
    )
    counts = ctx.sql(
        "SELECT 'node' AS t, node_kind AS k, COUNT(*) AS n FROM cpg_nodes "
        "WHERE node_kind IN ('SCIP_SYMBOL', 'DIAGNOSTIC') GROUP BY node_kind UNION ALL "
        "SELECT 'edge', concat(edge_kind, '/', resolution_method), COUNT(*) FROM cpg_edges "
        "WHERE edge_kind IN ('SCIP_OCCURRENCE', 'REFERS_TO') "
        "GROUP BY edge_kind, resolution_method"
    ).to_pylist()
    print("  " + ", ".join(f"{r['k']} {r['n']:,}" for r in sorted(counts, key=str)))
    if with_agreement:
        started = time.perf_counter()
        agreement = scip_agreement(ctx)
        print(f"  agreement query: {time.perf_counter() - started:.2f} s")
        _print_agreement(agreement)
    return wall


def _print_run(info: ScipRunInfo) -> None:
    print(
        f"  scip-python {info.scip_python_version} (node {info.node_version}): {info.status}"
        f"{' (' + info.message + ')' if info.message else ''}; own wall {info.seconds_tool:.2f} s,"
        f" peak RSS {info.max_rss_mib:,.0f} MiB; reading the index {info.seconds_read:.2f} s"
    )
    print(
        f"  index: {info.documents} documents ({info.files_without_document} scanned files "
        f"without one), {info.occurrences:,} occurrences, {info.symbols:,} symbols, "
        f"{info.relationships:,} relationships, {info.diagnostics} diagnostics, "
        f"{info.bad_ranges} bad ranges"
    )


def _print_agreement(agreement: ScipAgreement) -> None:
    rate = agreement.agreement_rate or 0.0

    def share(agree: int, both: int) -> str:
        return f"{agree:,}/{both:,} = {agree / both:.4f}" if both else "0/0"

    print(
        f"  agreement on uses both resolve: "
        f"{share(agreement.agree, agreement.uses_both_resolved)} (target >= "
        f"{TARGET_AGREEMENT}: {'met' if rate >= TARGET_AGREEMENT else 'NOT met'})"
    )
    print(
        f"    repository definitions {share(agreement.in_repo_agree, agreement.in_repo_both)};"
        f" external names {share(agreement.external_agree, agreement.external_both)}"
    )
    print(
        f"    REFERS_TO only {agreement.refers_to_only:,}, SCIP only {agreement.scip_only:,}; "
        f"occurrences at a CPG node {agreement.occurrences_matched:,}, elsewhere "
        f"{agreement.occurrences_unmatched:,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--memory-mb", type=int, default=4096)
    parser.add_argument("--baseline-graph", action="store_true")
    args = parser.parse_args()
    root, paths = stdlib_corpus()
    print(f"corpus: {root} ({len(paths)} files), jobs={args.jobs}", flush=True)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as base, tempfile.TemporaryDirectory() as scip:
        base_wall = _evidence(root, Path(base), "default", args)
        scip_wall = _evidence(root, Path(scip), "default,scip", args)
        print(f"evidence time added by the layer: {scip_wall - base_wall:.2f} s", flush=True)
        scip_graph = _graph(Path(scip), "default,scip", with_agreement=True)
        if args.baseline_graph:
            base_graph = _graph(Path(base), "default", with_agreement=False)
            print(f"graph time added by the layer: {scip_graph - base_graph:.2f} s")
    print(f"1-min load average: {load:.2f} before, {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
