square = lambda x: x * x
add = lambda a, b: a + b
print(add(square(2), square(3)))
