"""Benchmark: call-graph accuracy of CodeAnatomy and PyCG 0.0.7 on a snippet suite.

A suite is a directory of ``<category>/<case>/`` snippets, each holding ``main.py`` (plus
any modules it imports) and ``callgraph.json``, the expected graph in PyCG's format
``{caller: [callees]}``. Each tool runs once per case, in a process of its own, so a
crash stays with its case and start-up is part of the time measured:

- CodeAnatomy: ``codeanatomy callgraph CASE --format pycg``;
- PyCG: ``python -m pycg --package CASE CASE/main.py``, main.py being the entry point as
  in PyCG's own micro-benchmark.

Scores are over edges, (caller, callee) pairs, summed over the cases of a category:
precision = correct / reported, recall = correct / expected. A case is an exact match
when its edge set equals the expected one (keys listed with ``[]`` do not count). A
crash, a timeout or unreadable output counts as an empty graph for that case and is
listed. Tools run one after the other, each with ``--jobs`` cases at a time.

    python -m uv run --locked python -m bench.callgraph_accuracy [--suite DIR] [--json]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import msgspec

Edge = tuple[str, str]
TOOLS = ("codeanatomy", "pycg")
DEFAULT_SUITE = Path(__file__).resolve().parent.parent / "tests" / "callgraph_suite"
DEFAULT_TIMEOUT_S = 600.0
SHOWN_CRASH_CHARS = 160


class SuiteError(Exception):
    """The suite directory is not usable; the message is for the user."""


class Case(msgspec.Struct, frozen=True):
    category: str
    name: str
    path: str
    expected: frozenset[Edge]


class CaseResult(msgspec.Struct, frozen=True, kw_only=True):
    """One tool on one case: edge counts, what it got wrong, and whether it crashed."""

    category: str
    case: str
    expected: int
    reported: int
    correct: int
    exact: bool
    seconds: float
    crash: str | None
    missing: list[Edge]
    extra: list[Edge]


class Score(msgspec.Struct, frozen=True, kw_only=True):
    cases: int
    exact: int
    crashes: int
    expected: int
    reported: int
    correct: int
    precision: float | None  # None when nothing was reported
    recall: float | None  # None when nothing was expected
    f1: float  # harmonic mean of precision and recall; 0 when either is 0 or None


class ToolReport(msgspec.Struct, frozen=True, kw_only=True):
    tool: str
    label: str
    wall_seconds: float
    by_category: dict[str, Score]
    total: Score
    cases: list[CaseResult]


class Report(msgspec.Struct, frozen=True, kw_only=True):
    suite: str
    jobs: int
    tools: list[ToolReport]


def edges(graph: Mapping[str, Iterable[str]]) -> frozenset[Edge]:
    return frozenset((caller, callee) for caller, callees in graph.items() for callee in callees)


def read_pycg(data: bytes) -> frozenset[Edge]:
    """Edges of a PyCG-format JSON document (raises msgspec errors when it is not one)."""
    return edges(msgspec.json.decode(data, type=dict[str, list[str]]))


def discover_cases(suite: Path) -> list[Case]:
    """Every ``<category>/<case>/`` of ``suite`` with a main.py and a readable callgraph.json."""
    if not suite.is_dir():
        raise SuiteError(f"suite directory not found: {suite}")
    cases = []
    for main in sorted(suite.resolve().glob("*/*/main.py")):
        root = main.parent
        expected_path = root / "callgraph.json"
        if not expected_path.is_file():
            continue
        try:
            expected = read_pycg(expected_path.read_bytes())
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise SuiteError(f"{expected_path}: not a PyCG call graph ({exc})") from None
        cases.append(Case(root.parent.name, root.name, str(root), expected))
    if not cases:
        raise SuiteError(f"no <category>/<case>/ with main.py and callgraph.json under {suite}")
    return cases


def tool_label(tool: str) -> str:
    return "CodeAnatomy" if tool == "codeanatomy" else f"PyCG {version('pycg')}"


def command(tool: str, case_dir: Path, out: Path) -> list[str]:
    if tool == "codeanatomy":
        args = ["-m", "codeanatomy.surfaces.cli", "callgraph", str(case_dir), "--format", "pycg"]
    else:
        args = ["-W", "ignore", "-m", "pycg", "--package", str(case_dir), str(case_dir / "main.py")]
    return [sys.executable, *args, "-o", str(out)]


def run_case(tool: str, case: Case, timeout: float = DEFAULT_TIMEOUT_S) -> CaseResult:
    """Run ``tool`` on one case and compare its edges with the expected ones."""
    reported: frozenset[Edge] = frozenset()
    crash: str | None = None
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgraph.json"
        try:
            done = subprocess.run(
                command(tool, Path(case.path), out),
                check=False,
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=tmp,
            )
        except subprocess.TimeoutExpired:
            crash = f"timed out after {timeout:.0f} s"
        else:
            if done.returncode != 0:
                crash = f"exit {done.returncode}: {_last_line(done.stderr)}"
            else:
                try:
                    reported = read_pycg(out.read_bytes())
                except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
                    crash = f"unreadable output: {exc}"
    return compare(case, reported, crash, time.perf_counter() - started)


def compare(case: Case, reported: frozenset[Edge], crash: str | None, seconds: float) -> CaseResult:
    """Score the edges a tool reported on ``case`` against the expected ones."""
    correct = reported & case.expected
    return CaseResult(
        category=case.category,
        case=case.name,
        expected=len(case.expected),
        reported=len(reported),
        correct=len(correct),
        exact=reported == case.expected,
        seconds=seconds,
        crash=crash,
        missing=sorted(case.expected - reported),
        extra=sorted(reported - case.expected),
    )


def _last_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return (lines[-1] if lines else "(no message)")[:SHOWN_CRASH_CHARS]


def score(results: Sequence[CaseResult]) -> Score:
    expected = sum(r.expected for r in results)
    reported = sum(r.reported for r in results)
    correct = sum(r.correct for r in results)
    return Score(
        cases=len(results),
        exact=sum(r.exact for r in results),
        crashes=sum(r.crash is not None for r in results),
        expected=expected,
        reported=reported,
        correct=correct,
        precision=correct / reported if reported else None,
        recall=correct / expected if expected else None,
        f1=2 * correct / (reported + expected) if correct else 0.0,
    )


def run_tool(tool: str, cases: Sequence[Case], jobs: int, timeout: float) -> ToolReport:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda case: run_case(tool, case, timeout), cases))
    wall = time.perf_counter() - started
    categories = sorted({r.category for r in results})
    return ToolReport(
        tool=tool,
        label=tool_label(tool),
        wall_seconds=wall,
        by_category={c: score([r for r in results if r.category == c]) for c in categories},
        total=score(results),
        cases=results,
    )


def render(report: Report) -> str:
    """The human-readable table: per category, then totals, wall times and crashes."""
    tools = report.tools
    cases = tools[0].total.cases
    categories = list(tools[0].by_category)
    lines = [
        f"suite: {report.suite} ({cases} cases in {len(categories)} categories), "
        f"{report.jobs} cases at a time per tool",
        f"{'':<16}{'':>6}" + "".join(f"  | {t.label:<35}" for t in tools),
        f"{'category':<16}{'cases':>6}" + "  | exact  precision  recall    f1 crash" * len(tools),
    ]
    rows = [(c, [t.by_category[c] for t in tools]) for c in categories]
    rows.append(("total", [t.total for t in tools]))
    for name, scores in rows:
        cells = "".join(
            f"  | {s.exact:>5} {_ratio(s.precision):>10} {_ratio(s.recall):>7}"
            f" {s.f1:>5.3f} {s.crashes:>5}"
            for s in scores
        )
        lines.append(f"{name:<16}{scores[0].cases:>6}{cells}")
    lines.append(
        "wall time: "
        + ", ".join(
            f"{t.label} {t.wall_seconds:.1f} s ({t.wall_seconds / max(cases, 1):.2f} s/case)"
            for t in tools
        )
    )
    crashed = [(t.label, r) for t in tools for r in t.cases if r.crash is not None]
    if crashed:
        lines.append("crashes (counted as empty graphs):")
        lines += [f"  {label} {r.category}/{r.case}: {r.crash}" for label, r in crashed]
    return "\n".join(lines) + "\n"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", type=Path, default=DEFAULT_SUITE, help="default: our suite")
    parser.add_argument(
        "--tool", action="append", choices=TOOLS, help="run only this tool (repeatable)"
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S", help="per case"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable report")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        print("callgraph_accuracy: error: --jobs must be at least 1", file=sys.stderr)
        return 2
    try:
        cases = discover_cases(args.suite)
    except SuiteError as exc:
        print(f"callgraph_accuracy: error: {exc}", file=sys.stderr)
        return 2
    tools = [run_tool(t, cases, args.jobs, args.timeout) for t in args.tool or TOOLS]
    report = Report(suite=str(args.suite), jobs=args.jobs, tools=tools)
    if args.json:
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(report).decode()) + "\n")
    else:
        sys.stdout.write(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
