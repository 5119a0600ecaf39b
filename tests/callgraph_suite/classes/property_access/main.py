import functools


class Temperature:
    def __init__(self, celsius):
        self._celsius = celsius

    @property
    def fahrenheit(self):
        return self.convert(self._celsius)

    @fahrenheit.setter
    def fahrenheit(self, value):
        self._celsius = self.unconvert(value)

    @functools.cached_property
    def label(self):
        return Label(self.fahrenheit)

    def convert(self, c):
        return c * 9 / 5 + 32

    def unconvert(self, f):
        return (f - 32) * 5 / 9


class Label:
    def __init__(self, degrees):
        self.degrees = degrees

    def render(self):
        return str(self.degrees)


def report(reading: Temperature):
    return reading.label.render()


t = Temperature(20)
t.fahrenheit = 212
print(report(t))
