def repeat(times):
    def decorate(func):
        def run(*args):
            return [func(*args) for _ in range(times)]

        return run

    return decorate


@repeat(2)
def greet(name):
    return "hi " + name


print(greet("bo"))
