class Button:
    def __init__(self, label, *, on_click):
        self.label = label
        self.on_click = on_click

    def click(self):
        return self.on_click(self.label)


def say(label):
    return "clicked " + label


button = Button("ok", on_click=say)
print(button.click())
