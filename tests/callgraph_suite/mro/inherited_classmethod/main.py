class Model:
    registry = []

    def __init__(self):
        Model.registry.append(type(self).__name__)

    @classmethod
    def create(cls):
        return cls()


class User(Model):
    def __init__(self):
        super().__init__()
        self.role = "user"


user = User.create()
print(Model.registry, user.role)
