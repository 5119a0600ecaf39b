"""Saved with a UTF-8 byte order mark."""


def greet(who):
    return "hi " + who
