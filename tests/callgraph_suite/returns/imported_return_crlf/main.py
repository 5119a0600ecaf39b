import factory

runner = factory.get()
print(runner())
