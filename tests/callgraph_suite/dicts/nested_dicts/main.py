def add(a, b):
    return a + b


def neg(a):
    return -a


def upper(s):
    return s.upper()


handlers = {"math": {"add": add, "neg": neg}, "text": {"upper": upper}}
print(handlers["math"]["add"](1, 2), handlers["text"]["upper"]("x"))
