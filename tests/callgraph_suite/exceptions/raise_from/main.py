class ConfigError(Exception):
    def __init__(self, key):
        super().__init__(key)
        self.key = key


def read(settings, key):
    try:
        return settings[key]
    except KeyError as exc:
        raise ConfigError(key) from exc


try:
    read({}, "port")
except ConfigError as err:
    print(err.key)
