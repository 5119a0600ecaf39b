from __future__ import annotations


class Repo:
    def fetch(self, key: str) -> str:
        return key * 2


class Service:
    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def handle(self, key: str) -> str:
        return self.repo.fetch(key)


def build() -> Service:
    return Service(Repo())


def serve(service: Service) -> str:
    return service.handle("k")


print(serve(build()))
