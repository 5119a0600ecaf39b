state = [3]


def countdown():
    state[0] -= 1
    return state[0]


for value in iter(countdown, 0):
    print(value)
