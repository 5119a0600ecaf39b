def on_ok(value):
    return "ok"


def on_fail(value):
    return "fail"


def check(value, *, success, failure):
    return success(value) if value else failure(value)


print(check(1, success=on_ok, failure=on_fail), check(0, failure=on_fail, success=on_ok))
