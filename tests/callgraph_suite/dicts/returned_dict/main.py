def parse_int(s):
    return int(s)


def parse_float(s):
    return float(s)


def parsers():
    return {"int": parse_int, "float": parse_float}


table = parsers()
print(table["int"]("3"), table["float"]("2.5"))
