REGISTRY = {}


def register(func):
    REGISTRY[func.__name__] = func
    return func


@register
def ping():
    return "pong"


@register
def echo(text):
    return text


print(ping(), echo("hi"), REGISTRY["ping"]())
