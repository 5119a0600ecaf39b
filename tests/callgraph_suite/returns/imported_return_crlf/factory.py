"""Saved with Windows line endings."""


def _impl():
    return "impl"


def get():
    return _impl
