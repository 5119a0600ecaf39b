class Temperature:
    def __init__(self, kelvin):
        self.kelvin = kelvin

    @classmethod
    def from_celsius(cls, celsius):
        return cls(Temperature.offset() + celsius)

    @staticmethod
    def offset():
        return 273.15

    def celsius(self):
        return self.kelvin - self.offset()


t = Temperature.from_celsius(20)
print(t.celsius())
