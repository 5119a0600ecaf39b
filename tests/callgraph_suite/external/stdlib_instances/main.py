import textwrap
from collections import Counter


def top_words(text):
    counts = Counter(text.split())
    return counts.most_common(1)


wrapper = textwrap.TextWrapper(width=10)
print(top_words("a b a"), wrapper.fill("hello world again"))
