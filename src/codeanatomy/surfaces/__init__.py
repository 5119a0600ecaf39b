"""User-facing surfaces: the command line."""
