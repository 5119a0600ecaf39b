class Connection:
    def __init__(self, url):
        self.url = url

    def query(self, sql):
        return f"{self.url}: {sql}"


def connect(url):
    return Connection(url)


print(connect("db://x").query("select 1"))
