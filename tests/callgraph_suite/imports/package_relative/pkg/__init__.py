from . import util
from .core import compute

__all__ = ["compute", "util"]
