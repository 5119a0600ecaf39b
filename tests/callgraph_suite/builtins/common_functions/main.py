def summarize(values):
    if not isinstance(values, list):
        values = list(values)
    ordered = sorted(values)
    print(len(ordered), min(ordered), max(ordered), sum(ordered), abs(-1), round(2.5))
    return ordered


summarize((3, 1, 2))
