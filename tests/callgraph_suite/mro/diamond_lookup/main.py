class Base:
    def describe(self):
        return "base"

    def hello(self):
        return "hello " + self.describe()


class Left(Base):
    def describe(self):
        return "left"


class Right(Base):
    def describe(self):
        return "right"

    def hello(self):
        return "right hello"


class Child(Left, Right):
    pass


child = Child()
print(child.hello(), child.describe(), Left().hello())
