"""Stage 2: per-file evidence extraction into Arrow batches, one module per parser layer."""
