class Suppress:
    def __init__(self, *kinds):
        self.kinds = kinds

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        return exc_type is not None and issubclass(exc_type, self.kinds)


def fail():
    raise LookupError("gone")


with Suppress(LookupError):
    fail()
print("survived")
