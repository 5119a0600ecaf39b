def handler_a():
    return "a"


def handler_b():
    return "b"


def run(callback=None):
    return callback()


def wrap(**kwargs):
    return run(**kwargs)


print(wrap(callback=handler_a), wrap(callback=handler_b))
