def first():
    return 1


def middle():
    return 2


def last():
    return 3


steps = [first, middle, last]
steps[0]()
steps[-1]()
