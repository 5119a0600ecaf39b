def load():
    return "load"


def transform():
    return "transform"


def save():
    return "save"


PIPELINE = [load, transform]
PIPELINE.append(save)


def run():
    for step in PIPELINE:
        step()


run()
