"""``python -m codeanatomy``: the same command as the ``codeanatomy`` script."""

from codeanatomy.surfaces.cli import run

run()
