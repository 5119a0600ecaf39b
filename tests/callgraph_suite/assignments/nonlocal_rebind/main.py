def outer():
    def inner_a():
        return "a"

    def inner_b():
        return "b"

    chosen = inner_a

    def swap():
        nonlocal chosen
        chosen = inner_b

    chosen()
    swap()
    return chosen()


outer()
