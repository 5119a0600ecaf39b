def weight(x):
    return x * 2


def total(items):
    return sum(weight(i) for i in items if i > 0)


print(total([1, -1, 2]))
