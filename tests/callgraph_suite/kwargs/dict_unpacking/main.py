def fmt_upper(s):
    return s.upper()


def fmt_plain(s):
    return s


def render(text, formatter=fmt_plain):
    return formatter(text)


options = {"formatter": fmt_upper}
print(render("a", **options), render("b"))
