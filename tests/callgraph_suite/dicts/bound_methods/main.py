class Door:
    def open(self):
        return "open"

    def close(self):
        return "closed"


door = Door()
actions = {"o": door.open, "c": door.close}
for key in "oc":
    print(actions[key]())
