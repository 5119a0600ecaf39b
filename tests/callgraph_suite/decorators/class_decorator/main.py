def with_greeting(cls):
    def greet(self):
        return "hello " + self.name

    cls.greet = greet
    return cls


@with_greeting
class Person:
    def __init__(self, name):
        self.name = name


p = Person("ada")
print(p.greet())
