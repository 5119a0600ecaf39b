"""Delta Lake storage of evidence and graph tables."""
