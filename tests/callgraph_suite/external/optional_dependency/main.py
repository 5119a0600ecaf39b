try:
    import fancyjson as jsonlib  # not installed: the fallback below is used
except ImportError:
    import json as jsonlib


def encode(obj):
    return jsonlib.dumps(obj)


print(encode([1]))
