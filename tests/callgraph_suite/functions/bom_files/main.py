import helper


def run():
    return helper.greet("x")


print(run())
