def trace(func):
    def traced(self, *args):
        print("->", func.__name__)
        return func(self, *args)

    return traced


def check(func):
    def checked(self, value):
        if value < 0:
            raise ValueError("negative")
        return func(self, value)

    return checked


class Gauge:
    def __init__(self):
        self.level = 0

    @trace
    @check
    def set(self, value):
        self.level = value
        return self


gauge = Gauge()
gauge.set(3)
