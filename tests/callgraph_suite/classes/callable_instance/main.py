class Multiplier:
    def __init__(self, factor):
        self.factor = factor

    def __call__(self, value):
        return value * self.factor


def apply_all(fn, values):
    return [fn(v) for v in values]


triple = Multiplier(3)
print(triple(2), apply_all(triple, [1, 2]))
