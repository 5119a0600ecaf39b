class ValidationError(Exception):
    def __init__(self, field):
        super().__init__(f"bad {field}")
        self.field = field


def validate(record):
    if "name" not in record:
        raise ValidationError("name")
    return record


try:
    validate({})
except ValidationError as err:
    print(err.field)
