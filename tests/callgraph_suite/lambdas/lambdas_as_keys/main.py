def norm(s):
    return s.strip().lower()


names = [" Bob", "alice ", "Carol"]
ordered = sorted(names, key=lambda n: norm(n))
upper = list(map(lambda n: norm(n).upper(), ordered))
print(upper)
