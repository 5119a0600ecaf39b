"""The ``codeanatomy`` command.

argparse (stdlib) keeps ``--help`` fast; heavy imports happen inside the commands. Every
usage problem is one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
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
        help="build the Code Property Graph of a repository",
        description="Scan REPO, write evidence Delta tables under OUT/evidence and compile "
        "them into OUT/cpg_nodes, OUT/cpg_edges and OUT/cpg_props.",
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
        "tree_sitter), 'all', '-name' drops one; e.g. default,libcst or default,scip",
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
    build.add_argument(
        "--scip-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="time limit of the scip layer's scip-python run (default 900)",
    )
    build.add_argument(
        "--scip-memory-mb",
        type=int,
        default=None,
        metavar="MB",
        help="heap cap of the scip layer's scip-python run (node; default 4096)",
    )
    build.add_argument("--json", action="store_true", help="print the run manifest as JSON")
    build.add_argument("--no-progress", action="store_true", help="never show a progress bar")

    query = commands.add_parser(
        "query",
        help="run a read-only SQL query over a build's tables",
        description="Run one read-only SQL query over the Delta tables of OUT: evidence "
        "tables by name (e.g. repo_files, ast_calls) and cpg_nodes, cpg_edges, cpg_props. "
        "DDL, DML, COPY and SET are refused.",
    )
    query.add_argument("out", type=Path, metavar="OUT", help="output directory of a build")
    query.add_argument("sql", metavar="SQL", help="one SQL query, e.g. 'SELECT * FROM repo_files'")
    query.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="default: table"
    )
    query.add_argument(
        "--limit",
        type=int,
        default=None,
        metavar="N",
        help="at most N rows (default: 1000 for table, all for json and csv; 0: no limit)",
    )

    plan = commands.add_parser(
        "plan",
        help="show how a build would run, without running it",
        description="Compile and plan the graph over the evidence of OUT (a build output) or "
        "of REPO (built first into a temporary directory) and show, per view, its "
        "materialisation and confidence, inferred inputs, evidence read and estimated "
        "cost; then the schedule's critical path and the fingerprints.",
    )
    plan.add_argument("path", type=Path, metavar="REPO|OUT", help="repository or build output")
    plan.add_argument(
        "--format", choices=("text", "json", "dot"), default="text", help="default: text"
    )
    plan.add_argument(
        "--layers",
        default="default",
        metavar="LIST",
        help="evidence layers when planning a REPO (as for build)",
    )
    plan.add_argument(
        "--jobs",
        type=int,
        default=0,
        metavar="N",
        help="worker processes when planning a REPO (default: number of cores)",
    )
    callgraph = commands.add_parser(
        "callgraph",
        help="export the call graph of a repository or build output",
        description="Print the caller -> callee graph of OUT (a build output) or of REPO "
        "(built first into a temporary directory): pycg is PyCG's JSON dict, json lists "
        "every call edge with its site, resolution method and confidence.",
    )
    callgraph.add_argument(
        "target", type=Path, metavar="REPO|OUT", help="repository or build output"
    )
    callgraph.add_argument(
        "--format", choices=("pycg", "json", "dot", "graphml"), default="pycg", help="default: pycg"
    )
    callgraph.add_argument(
        "-o", "--output", type=Path, default=None, metavar="FILE", help="write here, not to stdout"
    )
    doctor = commands.add_parser(
        "doctor",
        help="check the external tools of the optional layers (node, npm, scip-python)",
        description="Report whether node, npm and scip-python (the SCIP layer's indexer) "
        "are available, with their versions. Exit status 1 when one is missing.",
    )
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "build":
            return _build(args)
        if args.command == "query":
            return _query(args)
        if args.command == "plan":
            return _plan(args)
        if args.command == "doctor":
            return _doctor(args)
        if args.command == "callgraph":
            return _callgraph(args)
    except BrokenPipeError:  # `codeanatomy query ... | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    raise AssertionError(args.command)  # argparse rejects unknown commands


def _build(args: argparse.Namespace) -> int:
    from codeanatomy.build import DEFAULT_MAX_FILE_BYTES, BuildOptions, UsageError
    from codeanatomy.extract.scip.run import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S
    from codeanatomy.pipeline import run
    from codeanatomy.surfaces.report import BuildProgress, render_build

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
        scip_timeout_s=DEFAULT_TIMEOUT_S if args.scip_timeout is None else args.scip_timeout,
        scip_memory_mb=DEFAULT_MEMORY_MB if args.scip_memory_mb is None else args.scip_memory_mb,
    )
    show_bar = sys.stderr.isatty() and not args.no_progress and not args.json
    try:
        with BuildProgress(enabled=show_bar) as progress:
            result = run(options, progress.hooks())
    except UsageError as exc:
        return _usage(str(exc))
    except KeyboardInterrupt:
        print("codeanatomy: interrupted", file=sys.stderr)
        return 130
    sys.stdout.write(render_build(result.evidence, result.graph, as_json=args.json))
    return 0


def _query(args: argparse.Namespace) -> int:
    from codeanatomy.surfaces.query import QueryError, run_query

    try:
        text = run_query(args.out, args.sql, args.format, args.limit)
    except QueryError as exc:
        return _usage(str(exc))
    sys.stdout.write(text)
    return 0


def _plan(args: argparse.Namespace) -> int:
    from codeanatomy.build import UsageError
    from codeanatomy.pipeline import prepare
    from codeanatomy.plan.session import new_session
    from codeanatomy.surfaces.plan_report import evidence_for, plan_report, render_plan

    if args.jobs < 0:
        return _usage("--jobs must be a positive number (0 or omitted: one per core)")
    try:
        with evidence_for(args.path, layers=args.layers, jobs=args.jobs) as out:
            report = plan_report(prepare(new_session(), out))
    except UsageError as exc:
        return _usage(str(exc))
    sys.stdout.write(render_plan(report, args.format))
    return 0


def _callgraph(args: argparse.Namespace) -> int:
    from codeanatomy.build import UsageError
    from codeanatomy.surfaces.callgraph import graph_for, load_callgraph, render_callgraph

    try:
        with graph_for(args.target) as out:
            text = render_callgraph(load_callgraph(out), args.format)
    except UsageError as exc:
        return _usage(str(exc))
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        return _usage(f"cannot write {args.output}: {exc.strerror or exc}")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from codeanatomy.surfaces.doctor import doctor_report, render_doctor

    report = doctor_report()
    sys.stdout.write(render_doctor(report, as_json=args.json))
    return 0 if report.ok else 1


def _usage(message: str) -> int:
    print(f"codeanatomy: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def run() -> NoReturn:
    """The process entry point: run :func:`main`, flush, and leave without finalization.

    pyarrow's dataset scanner (our Delta read path, see ``plan.session``) can leave worker
    threads alive at interpreter shutdown; when C++ static destructors then meet a joinable
    thread the process aborts with "terminate called without an active exception" (exit
    -6) after its output was already complete (apache/arrow#34314, #45214). CI hit it on
    ``query``. So the exit handlers run (``multiprocessing`` removes its temporary
    directory there), and ``os._exit`` then skips only the teardown of modules and
    native libraries: every command has closed its own files, pools and temporary
    directories before it returns, and the exit status is the command's own. In-process
    callers (tests) use :func:`main`.
    """
    try:
        code = main()
    except SystemExit as exc:  # argparse usage errors and --help/--version
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # a pipe's reader left; main() chose the code
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
