def _prepare(x):
    return x.strip()


def handle(x):
    return _prepare(x).upper()


READY = _prepare(" ok ")
