"""Stage 4: planning authority — DataFusion plans, lineage, schedule and compiled policy."""
