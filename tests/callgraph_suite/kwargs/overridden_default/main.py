def default_sort(items):
    return sorted(items)


def reverse_sort(items):
    return sorted(items, reverse=True)


def arrange(items, sorter=default_sort, **extra):
    if extra.get("strict"):
        items = list(items)
    return sorter(items)


print(arrange([2, 1]), arrange([1, 2], sorter=reverse_sort, strict=True))
