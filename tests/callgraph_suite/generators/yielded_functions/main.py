def alpha():
    return "a"


def beta():
    return "b"


def producers():
    yield alpha
    yield beta


for make in producers():
    print(make())
