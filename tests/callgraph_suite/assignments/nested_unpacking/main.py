def red():
    return "red"


def green():
    return "green"


def blue():
    return "blue"


head, *rest = (red, green, blue)
head()
for fn in rest:
    fn()
(a, b), c = (blue, red), green
b()
