import functools


def combine(acc, item):
    return acc + item


print(functools.reduce(combine, [1, 2, 3], 0))
