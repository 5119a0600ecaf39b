import pkg
from pkg import compute

print(compute(7), pkg.util.clamp(-3))
