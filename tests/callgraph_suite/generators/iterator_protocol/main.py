class Steps:
    def __init__(self, limit):
        self.limit = limit
        self.current = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.current >= self.limit:
            raise StopIteration
        self.current += 1
        return self.current


def total(limit):
    result = 0
    for step in Steps(limit):
        result += step
    return result


print(total(3))
