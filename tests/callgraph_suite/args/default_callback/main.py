def default_handler(event):
    return "default:" + event


def custom_handler(event):
    return "custom:" + event


def dispatch(event, handler=default_handler):
    return handler(event)


dispatch("a")
dispatch("b", custom_handler)
