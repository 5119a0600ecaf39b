"""The call-graph snippet suite: its shape, its expected graphs against what Python does,
and CodeAnatomy's accuracy on it.

The expected graphs (``callgraph_suite/<category>/<case>/callgraph.json``) are written by
hand, so the first tests hold them to the interpreter and involve no CodeAnatomy code:
every snippet runs under the tracer, and among the edges a profiler can see, the run and
the expected graph must agree exactly (every suite snippet takes every path it models).
The last test scores CodeAnatomy against PyCG 0.0.7 on the suite, one category per test so
the builds spread over the xdist workers: CodeAnatomy's call graph (built in-process, the
same code ``callgraph --format pycg`` runs) must be at least as good as PyCG's on every
category, by F1 over edges and by exact matches, and never crash.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
from bench.callgraph_accuracy import (
    Case,
    CaseResult,
    compare,
    discover_cases,
    edges,
    run_case,
    score,
)

from codeanatomy.surfaces.callgraph import graph_for, load_callgraph, to_pycg
from tests.callgraph_tracer import defined_names, observable, trace

SUITE = Path(__file__).parent / "callgraph_suite"
CATEGORIES = (
    "args",
    "assignments",
    "builtins",
    "classes",
    "decorators",
    "dicts",
    "direct_calls",
    "dynamic",
    "exceptions",
    "external",
    "functions",
    "generators",
    "imports",
    "kwargs",
    "lambdas",
    "lists",
    "mro",
    "returns",
)
MIN_CASES = 5
SHOWN_EDGES = 20

CASES = discover_cases(SUITE)


def _case_id(case: Case) -> str:
    return f"{case.category}/{case.name}"


def test_every_category_has_enough_cases() -> None:
    counts = Counter(case.category for case in CASES)
    assert sorted(counts) == sorted(CATEGORIES)
    assert {c: n for c, n in counts.items() if n < MIN_CASES} == {}


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_expected_graph_lists_every_name(case: Case) -> None:
    """Every module, function, method and lambda is a key, and so is every callee."""
    root = Path(case.path)
    graph: dict[str, list[str]] = json.loads((root / "callgraph.json").read_text("utf-8"))
    assert defined_names(root) - set(graph) == set()
    assert {callee for _, callee in case.expected} - set(graph) == set()
    assert list(graph) == sorted(graph)
    assert {k: v for k, v in graph.items() if v != sorted(set(v))} == {}


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_expected_graph_matches_the_run(case: Case) -> None:
    root = Path(case.path)
    run = trace(root)
    assert run.error is None
    defined = defined_names(root)
    modelled = {edge for edge in case.expected if observable(edge[1], defined)}
    assert sorted(run.edges - modelled) == [], "the run made calls the expected graph lacks"
    assert sorted(modelled - run.edges) == [], "the expected graph has calls the run never made"


def _codeanatomy(case: Case) -> CaseResult:
    started = time.perf_counter()
    with graph_for(Path(case.path)) as out:
        reported = edges(to_pycg(load_callgraph(out)))
    return compare(case, reported, None, time.perf_counter() - started)


@pytest.mark.parametrize("category", CATEGORIES)
def test_codeanatomy_is_at_least_as_accurate_as_pycg(category: str) -> None:
    cases = [case for case in CASES if case.category == category]
    ours = [_codeanatomy(case) for case in cases]
    theirs = score([run_case("pycg", case) for case in cases])
    result = score(ours)
    wrong = {
        r.case: {"missing": r.missing[:SHOWN_EDGES], "extra": r.extra[:SHOWN_EDGES]}
        for r in ours
        if not r.exact
    }
    assert result.f1 >= theirs.f1, (result, theirs, wrong)
    assert result.exact >= theirs.exact, (result, theirs, wrong)
