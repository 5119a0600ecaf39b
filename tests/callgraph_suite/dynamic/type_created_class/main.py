def speak(self):
    return "..."


Animal = type("Animal", (), {"speak": speak})
print(Animal().speak())
