class Timeout(Exception):
    def __init__(self):
        super().__init__()
        self.seconds = 30

    def describe(self):
        return f"timeout after {self.seconds}s"


def wait():
    raise Timeout


try:
    wait()
except Timeout as exc:
    print(exc.describe())
