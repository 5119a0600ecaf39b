def compose(f, g):
    def composed(x):
        return f(g(x))

    return composed


def inc(x):
    return x + 1


def dbl(x):
    return x * 2


h = compose(inc, dbl)
print(h(3))
