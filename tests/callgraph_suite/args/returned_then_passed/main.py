def left():
    return "L"


def right():
    return "R"


def choose(flag):
    return left if flag else right


def invoke(fn):
    return fn()


invoke(choose(True))
invoke(choose(False))
