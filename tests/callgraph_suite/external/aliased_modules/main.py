import itertools as it
import os.path as osp
from math import sqrt as root


def norms(points):
    return [root(x * x + y * y) for x, y in points]


pairs = list(it.product([3], [4]))
print(norms(pairs), osp.splitext("a.tar.gz"))
