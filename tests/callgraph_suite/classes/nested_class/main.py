class Outer:
    class Inner:
        def __init__(self, value):
            self.value = value

        def get(self):
            return self.value

    def make(self):
        return Outer.Inner(4)


print(Outer().make().get())
