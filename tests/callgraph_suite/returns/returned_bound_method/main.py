class Formatter:
    def bold(self, s):
        return "*" + s + "*"

    def italic(self, s):
        return "_" + s + "_"

    def pick(self, style):
        return self.bold if style == "b" else self.italic


f = Formatter()
print(f.pick("b")("x"), f.pick("i")("y"))
