def first():
    return 1


def second():
    return 2


def run_all(*funcs):
    return [f() for f in funcs]


def pick(index, *options):
    return options[index]()


run_all(first, second)
pick(0, first, second)
pick(1, first, second)
