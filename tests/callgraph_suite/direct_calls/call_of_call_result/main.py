def inner():
    return "inner"


def middle():
    return inner


def outer():
    return middle


print(outer()()())
