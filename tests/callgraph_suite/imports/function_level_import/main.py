def pick(use_fast):
    if use_fast:
        from helpers import fast as impl
    else:
        from helpers import slow as impl
    return impl()


print(pick(True), pick(False))
