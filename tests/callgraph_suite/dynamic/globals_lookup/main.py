def alpha():
    return "a"


def beta():
    return "b"


def call_by_name(name):
    return globals()[name]()


print(call_by_name("alpha"), call_by_name("beta"))
