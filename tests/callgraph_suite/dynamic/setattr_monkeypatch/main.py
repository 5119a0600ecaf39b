class Greeter:
    def hello(self):
        return "hello"


def loud_hello(self):
    return "HELLO"


greeter = Greeter()
print(greeter.hello())
setattr(Greeter, "hello", loud_hello)
print(greeter.hello())
