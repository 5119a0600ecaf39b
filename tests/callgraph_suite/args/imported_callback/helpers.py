"""Iteration helpers that call back into the caller's functions."""


def each(items, fn):
    for item in items:
        fn(item)
