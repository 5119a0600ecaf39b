"""The call-graph snippet suite: its shape, its expected graphs against what Python does,
and CodeAnatomy's accuracy on it.

The expected graphs (``callgraph_suite/<category>/<case>/callgraph.json``) are written by
hand, so the first tests hold them to the interpreter and involve no CodeAnatomy code:
every snippet runs under the tracer, and among the edges a profiler can see, the run and
the expected graph must agree exactly (every suite snippet takes every path it models).
The last test scores CodeAnatomy's ``callgraph --format pycg`` on the suite, one
category per test so the builds spread over the xdist workers.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from bench.callgraph_accuracy import Case, discover_cases, run_case, score

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
# Floors for CodeAnatomy on each category of the suite (edge precision and recall).
MIN_PRECISION = 0.99
MIN_RECALL = 0.97
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


@pytest.mark.parametrize("category", CATEGORIES)
def test_codeanatomy_accuracy(category: str) -> None:
    results = [run_case("codeanatomy", case) for case in CASES if case.category == category]
    assert [(r.case, r.crash) for r in results if r.crash is not None] == []
    result = score(results)
    wrong = {
        r.case: {"missing": r.missing[:SHOWN_EDGES], "extra": r.extra[:SHOWN_EDGES]}
        for r in results
        if not r.exact
    }
    assert result.precision is not None and result.recall is not None
    assert result.precision >= MIN_PRECISION and result.recall >= MIN_RECALL, wrong
