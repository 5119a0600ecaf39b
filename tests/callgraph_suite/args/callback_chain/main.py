def shout(text):
    return text.upper()


def whisper(text):
    return text.lower()


def apply(fn, value):
    return fn(value)


def apply_twice(fn, value):
    return apply(fn, apply(fn, value))


print(apply(shout, "a"), apply_twice(whisper, "B"))
