import importlib


def load(name):
    module = importlib.import_module(name)
    return module.run()


print(load("plugin_a"), load("plugin_b"))
