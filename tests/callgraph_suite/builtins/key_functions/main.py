def by_length(word):
    return len(word)


words = ["pear", "fig", "banana"]
shortest_first = sorted(words, key=by_length)
longest = max(words, key=lambda w: len(w))
print(shortest_first, longest)
