def one():
    return 1


def two():
    return 2


registry = {fn.__name__: fn for fn in (one, two)}
total = sum(f() for f in registry.values())
print(total)
