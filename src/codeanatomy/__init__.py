"""CodeAnatomy: a Code Property Graph builder for Python repositories."""

__version__ = "0.1.0"
