def target(a, b=0, *, c=0):
    return a + b + c


def forward(*args, **kwargs):
    return target(*args, **kwargs)


print(forward(1, 2, c=3))
