def scale(factor):
    return lambda x: x * factor


def offset_then_scale(off, factor):
    shift = lambda x: x + off
    grow = scale(factor)
    return lambda x: grow(shift(x))


pipeline = offset_then_scale(1, 10)
print(pipeline(2))
