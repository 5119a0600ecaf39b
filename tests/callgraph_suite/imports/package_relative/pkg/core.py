from .util import clamp


def compute(x):
    return clamp(x * 2)
