def a():
    return "a"


def b():
    return "b"


pair = (a, b)
x, y = pair
print(x(), pair[1]())
for fn in {a}:
    fn()
