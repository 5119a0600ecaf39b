def ping():
    return "ping"


def register(hooks):
    hooks.append(ping)
    return hooks


def fire(hooks):
    return [hook() for hook in hooks]


hooks = []
print(fire(register(hooks)))
