"""Stage 1: find the repository's Python files and read them into :class:`SourceFile`."""
