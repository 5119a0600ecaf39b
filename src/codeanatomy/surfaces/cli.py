"""The ``codeanatomy`` command.

argparse (stdlib) keeps ``--help`` fast; heavy imports happen inside the commands. Every
usage problem is one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from codeanatomy import __version__

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="codeanatomy",
        description="Build a Code Property Graph of a Python repository as Delta Lake tables.",
    )
    parser.add_argument("--version", action="version", version=f"codeanatomy {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    build = commands.add_parser(
        "build",
        help="scan a repository and extract its evidence tables",
        description="Scan REPO and write evidence Delta tables under OUT/evidence.",
    )
    build.add_argument("repo", type=Path, metavar="REPO", help="repository directory")
    build.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="OUT",
        help="output directory (default: ./codeanatomy-out/<repo name>)",
    )
    build.add_argument(
        "--layers",
        default="default",
        metavar="LIST",
        help="evidence layers: comma-separated names, 'default' (ast, symtable, bytecode, "
        "tree_sitter), 'all', '-name' drops one; e.g. default,libcst",
    )
    build.add_argument(
        "--jobs",
        type=int,
        default=0,
        metavar="N",
        help="worker processes (default: number of cores)",
    )
    build.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="GLOB",
        help="only files matching this gitignore-style glob (repeatable)",
    )
    build.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip files matching this gitignore-style glob (repeatable)",
    )
    build.add_argument(
        "--max-file-bytes",
        type=int,
        default=None,
        metavar="N",
        help="skip (and report) files larger than N bytes (default 4 MiB)",
    )
    build.add_argument("--json", action="store_true", help="print the run manifest as JSON")
    build.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "build":
        return _build(args)
    raise AssertionError(args.command)  # argparse rejects unknown commands


def _build(args: argparse.Namespace) -> int:
    from codeanatomy.build import DEFAULT_MAX_FILE_BYTES, BuildOptions, UsageError, build
    from codeanatomy.surfaces.report import BuildProgress, render_manifest

    out = args.out or Path("codeanatomy-out") / (args.repo.resolve().name or "repo")
    if args.jobs < 0:
        return _usage("--jobs must be a positive number (0 or omitted: one per core)")
    options = BuildOptions(
        repo=args.repo,
        out=out,
        layers=args.layers,
        jobs=args.jobs,
        include=tuple(args.include),
        exclude=tuple(args.exclude),
        max_file_bytes=(
            DEFAULT_MAX_FILE_BYTES if args.max_file_bytes is None else args.max_file_bytes
        ),
    )
    show_bar = sys.stderr.isatty() and not args.no_progress and not args.json
    try:
        with BuildProgress(enabled=show_bar) as progress:
            manifest = build(options, progress.hooks())
    except UsageError as exc:
        return _usage(str(exc))
    except KeyboardInterrupt:
        print("codeanatomy: interrupted", file=sys.stderr)
        return 130
    sys.stdout.write(render_manifest(manifest, as_json=args.json))
    return 0


def _usage(message: str) -> int:
    print(f"codeanatomy: error: {message}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
