"""The SCIP layer: scip-python's index of a repository as evidence (opt-in)."""
