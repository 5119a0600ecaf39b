def double(x):
    return x * 2


def is_even(x):
    return x % 2 == 0


def pipeline(values):
    return list(map(double, filter(is_even, values)))


print(pipeline(range(6)))
