"""Reading evidence Delta tables back in tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable


def read_table(out: Path, name: str) -> pa.Table:
    return DeltaTable(str(out / "evidence" / name)).to_pyarrow_table()


def rows(out: Path, name: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = read_table(out, name).to_pylist()
    return records
