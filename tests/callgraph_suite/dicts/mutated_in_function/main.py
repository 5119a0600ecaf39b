def base_handler(x):
    return x


def override(x):
    return -x


def late(x):
    return x * 10


table = {"a": base_handler}


def configure(t):
    t.update({"a": override})
    t["b"] = late


configure(table)
print(table["a"](1), table["b"](2))
