"""Run the ``codeanatomy`` CLI in-process, so tests reuse session fixtures and see rc/output."""

from __future__ import annotations

import contextlib
import io

from codeanatomy.surfaces.cli import main


def cli(*args: str) -> tuple[int, str, str]:
    """Run the command in-process; rc, stdout, stderr (argparse exits become the rc)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(list(args))
        except SystemExit as exc:
            rc = int(exc.code or 0)
    return rc, out.getvalue(), err.getvalue()
