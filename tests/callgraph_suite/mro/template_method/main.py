class Shape:
    def __init__(self, name):
        self.name = name
        self.setup()

    def setup(self):
        self.sides = 0


class Polygon(Shape):
    def setup(self):
        self.sides = 3


class Triangle(Polygon):
    def area(self):
        return 1.0


t = Triangle("t")
print(t.sides, t.area())
