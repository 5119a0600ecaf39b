def alpha():
    return "a"


def beta():
    return "b"


first = alpha
second = first
third = second
third()
third = beta
third()
