class AppError(Exception):
    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


class NotFound(AppError):
    pass


class Forbidden(AppError):
    def __init__(self, message):
        super().__init__(message, code=3)


def check(kind):
    if kind == "missing":
        raise NotFound("nope")
    raise Forbidden("no")


for kind in ("missing", "denied"):
    try:
        check(kind)
    except AppError as err:
        print(err.code)
