"""Export the JSON Schemas of evidence rows and artifacts to ``schemas/``.

``--check`` fails (exit 1) when the files on disk differ from what the code declares, so a
contract change is always a visible diff in review.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from codeanatomy.artifacts import ARTIFACT_TYPES
from codeanatomy.execute.runner import ExecutionReport
from codeanatomy.extract.catalog import all_tables
from codeanatomy.pipeline import DecisionProvenance, GraphSummary, PlanBundles
from codeanatomy.plan.contracts import (
    CompiledExecutionPolicy,
    InferredDeps,
    Lineage,
    PlanBundle,
    TaskSchedule,
)
from codeanatomy.semantics.compiler import SemanticProgramManifest
from codeanatomy.semantics.decisions import Decision

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


def _evidence_schema() -> dict[str, Any]:
    tables = all_tables()
    _, components = msgspec.json.schema_components([t.row for t in tables])
    return {
        "title": "CodeAnatomy evidence tables",
        "tables": {t.name: {"row": t.row.__name__, "doc": t.doc} for t in tables},
        "$defs": components,
    }


def _artifact_schema() -> dict[str, Any]:
    types = (
        *ARTIFACT_TYPES,
        SemanticProgramManifest,
        PlanBundle,
        Lineage,
        InferredDeps,
        TaskSchedule,
        CompiledExecutionPolicy,
        Decision,
        GraphSummary,
        ExecutionReport,
        PlanBundles,
        DecisionProvenance,
    )
    _, components = msgspec.json.schema_components(types)
    return {"title": "CodeAnatomy artifacts", "$defs": components}


def expected() -> dict[str, str]:
    return {
        name: json.dumps(schema, indent=2, sort_keys=True) + "\n"
        for name, schema in (
            ("evidence.schema.json", _evidence_schema()),
            ("artifacts.schema.json", _artifact_schema()),
        )
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when schemas/ is stale")
    args = parser.parse_args()
    stale = []
    for name, text in expected().items():
        path = SCHEMAS / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"stale schemas: {', '.join(stale)}; run: python scripts/export_schemas.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
