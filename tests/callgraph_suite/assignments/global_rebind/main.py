def old_impl():
    return 1


def new_impl():
    return 2


current = old_impl


def upgrade():
    global current
    current = new_impl


def run():
    return current()


run()
upgrade()
run()
