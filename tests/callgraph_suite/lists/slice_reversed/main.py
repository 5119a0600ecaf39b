def one():
    return 1


def two():
    return 2


def three():
    return 3


funcs = [one, two, three]
for fn in reversed(funcs[1:]):
    print(fn())
