def run():
    return "B"
