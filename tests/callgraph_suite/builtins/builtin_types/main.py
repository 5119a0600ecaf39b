def pairs(names, scores):
    table = dict(zip(names, scores))
    for index, name in enumerate(sorted(table)):
        print(index, str(table[name]), int("7"))


pairs(["b", "a"], [1, 2])
