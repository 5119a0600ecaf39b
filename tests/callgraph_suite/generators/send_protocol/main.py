def accumulator():
    total = 0
    while True:
        value = yield total
        total += value


def feed(values):
    acc = accumulator()
    next(acc)
    for v in values:
        acc.send(v)
    return acc.send(0)


print(feed([1, 2]))
