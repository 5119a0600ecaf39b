def low(v):
    return v - 1


def high(v):
    return v + 1


table = [[low, high], [high, low]]
results = [row[i](5) for row in table for i in range(2)]
print(results)
