class Calculator:
    double = lambda self, x: x * 2

    def ops(self):
        return {"neg": lambda x: -x, "dbl": self.double}

    def run(self, name, value):
        return self.ops()[name](value)


calc = Calculator()
print(calc.run("neg", 3), calc.run("dbl", 4))
