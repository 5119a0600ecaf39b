"""The CPG output contract (CPG_SCHEMA.md v1): the three tables' Arrow schemas.

This module is the one place these schemas are written down; the view builders cast
their output to them and the writers derive constraints from them.
"""

from __future__ import annotations

import pyarrow as pa

CPG_NODES = pa.schema(
    [
        pa.field("node_id", pa.string(), nullable=False),
        pa.field("node_kind", pa.string(), nullable=False),
        pa.field("file_id", pa.string(), metadata={"semantic": "file_id"}),
        pa.field("path", pa.string()),
        pa.field("bstart", pa.int64(), metadata={"semantic": "span_start", "span_unit": "byte"}),
        pa.field("bend", pa.int64(), metadata={"semantic": "span_end", "span_unit": "byte"}),
        pa.field("line_start", pa.int32()),
        pa.field("col_start", pa.int32()),
        pa.field("line_end", pa.int32()),
        pa.field("col_end", pa.int32()),
        pa.field("name", pa.string()),
        pa.field("qualname", pa.string()),
        pa.field("origin", pa.string(), nullable=False),
    ]
)

CPG_EDGES = pa.schema(
    [
        pa.field("edge_id", pa.string(), nullable=False),
        pa.field("edge_kind", pa.string(), nullable=False),
        pa.field("src_node_id", pa.string(), nullable=False),
        pa.field("dst_node_id", pa.string(), nullable=False),
        pa.field("file_id", pa.string(), metadata={"semantic": "file_id"}),
        pa.field("path", pa.string()),
        pa.field("bstart", pa.int64(), metadata={"semantic": "span_start", "span_unit": "byte"}),
        pa.field("bend", pa.int64(), metadata={"semantic": "span_end", "span_unit": "byte"}),
        pa.field("origin", pa.string(), nullable=False),
        pa.field("resolution_method", pa.string()),
        pa.field("confidence", pa.float64(), nullable=False),
    ]
)

CPG_PROPS = pa.schema(
    [
        pa.field("entity_kind", pa.string(), nullable=False),
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("file_id", pa.string(), metadata={"semantic": "file_id"}),
        pa.field("prop_key", pa.string(), nullable=False),
        pa.field("value_type", pa.string(), nullable=False),
        pa.field("value_string", pa.string()),
        pa.field("value_int", pa.int64()),
        pa.field("value_float", pa.float64()),
        pa.field("value_bool", pa.bool_()),
        pa.field("value_json", pa.string()),
    ]
)

CPG_TABLES = {"cpg_nodes": CPG_NODES, "cpg_edges": CPG_EDGES, "cpg_props": CPG_PROPS}
