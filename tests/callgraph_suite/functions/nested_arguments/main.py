def square(x):
    return x * x


def inc(x, step=1):
    return x + step


def compute(v):
    return inc(square(v), step=2)


print(compute(3))
