import helpers
from helpers import each as for_each


def show(item):
    print(item)


helpers.each([1, 2], show)
for_each(["ab"], len)
