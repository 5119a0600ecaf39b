def transform(value, fn=lambda v: v + 1):
    return fn(value)


result = (lambda: transform(1))()
print(result, transform(2, fn=lambda v: v * 3))
