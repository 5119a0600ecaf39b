def risky(n):
    if n % 2:
        raise KeyError(n)
    return n


def on_error(exc):
    return "error"


def on_success(value):
    return "ok"


def cleanup():
    return None


def process(n):
    try:
        value = risky(n)
    except KeyError as exc:
        return on_error(exc)
    else:
        return on_success(value)
    finally:
        cleanup()


for i in range(2):
    print(process(i))
