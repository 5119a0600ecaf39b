class Base:
    def __init__(self):
        self.log = ["base"]


class A(Base):
    def __init__(self):
        super().__init__()
        self.log.append("a")


class B(Base):
    def __init__(self):
        super().__init__()
        self.log.append("b")


class C(A, B):
    def __init__(self):
        super().__init__()


print(C().log)
