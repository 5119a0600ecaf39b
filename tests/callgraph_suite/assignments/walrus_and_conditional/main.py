def make_default():
    return []


def alpha():
    return "a"


def beta():
    return "b"


if (handler := make_default) is not None:
    handler()

for flag in (True, False):
    picked = alpha if flag else beta
    picked()
