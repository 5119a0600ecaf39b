def outer(x):
    def add(y):
        return x + y

    def twice(y):
        return add(add(y))

    return twice(1)


print(outer(5))
