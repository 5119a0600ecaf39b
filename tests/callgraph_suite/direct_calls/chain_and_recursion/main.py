def h():
    return 1


def g():
    return h() + 1


def f():
    return g() * 2


def countdown(n):
    if n > 0:
        countdown(n - 1)


f()
countdown(3)
