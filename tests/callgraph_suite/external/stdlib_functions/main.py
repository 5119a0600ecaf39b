import json
import os.path
from os.path import basename as base


def describe(path):
    return json.dumps({"dir": os.path.dirname(path), "file": base(path)})


print(describe(os.path.join("a", "b.txt")))
