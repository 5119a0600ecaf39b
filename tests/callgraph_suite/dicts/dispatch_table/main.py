def start():
    return "started"


def stop():
    return "stopped"


def unknown():
    return "?"


COMMANDS = {"start": start, "stop": stop}


def run(name):
    return COMMANDS.get(name, unknown)()


for cmd in ("start", "stop", "jump"):
    print(run(cmd))
