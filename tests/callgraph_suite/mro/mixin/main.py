class JsonMixin:
    def to_json(self):
        import json

        return json.dumps(self.as_dict())


class Point(JsonMixin):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def as_dict(self):
        return {"x": self.x, "y": self.y}


print(Point(1, 2).to_json())
