adders = [lambda x, n=n: x + n for n in range(3)]
print([add(10) for add in adders])
