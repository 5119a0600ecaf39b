"""The command line: help, version, one-line usage errors, summaries."""

import json
import subprocess
import sys

import pytest

from codeanatomy import __version__


def run(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codeanatomy.surfaces.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def test_version():
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"codeanatomy {__version__}"


def test_package_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "codeanatomy", "--version"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"codeanatomy {__version__}"


def test_installed_script_keeps_usage_exit_code_and_one_line_message():
    from pathlib import Path

    script = Path(sys.executable).parent / "codeanatomy"
    result = subprocess.run(
        [str(script), "frobnicate"], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "invalid choice" in result.stderr


@pytest.mark.parametrize("args", [("--help",), ("build", "--help")])
def test_help_on_every_command(args):
    result = run(*args)
    assert result.returncode == 0
    assert "usage: codeanatomy" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("build", "/nonexistent/repo"), "repository not found"),
        (("build",), "the following arguments are required: REPO"),
        (("frobnicate",), "invalid choice"),
        (("build", ".", "--layers", "default,nope"), "unknown layer 'nope'"),
        (("build", ".", "--jobs", "-1"), "--jobs"),
        (("build", ".", "--max-file-bytes", "0"), "--max-file-bytes"),
        (("build", ".", "--out", "a_file/out"), "cannot write output directory"),
    ],
)
def test_usage_errors_are_one_line_without_traceback(args, fragment, tmp_path):
    (tmp_path / "a_file").write_text("not a directory")
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_build_prints_a_summary_and_json(messy_repo, tmp_path):
    text = run("build", str(messy_repo), "--out", str(tmp_path / "a"), "--jobs", "1")
    assert text.returncode == 0, text.stderr
    assert "files: 14 (binary 1, ok 13)" in text.stdout
    assert "errors by layer:" in text.stdout and "ast_nodes" in text.stdout
    assert "graph:" in text.stdout and "MODULE 13" in text.stdout
    as_json = run(
        "build", str(messy_repo), "--out", str(tmp_path / "b"), "--json", "--layers", "ast"
    )
    assert as_json.returncode == 0, as_json.stderr
    summary = json.loads(as_json.stdout)
    manifest = summary["evidence"]
    assert [layer["name"] for layer in manifest["layers"]] == ["ast"]
    assert manifest["files"] == 14
    assert manifest["errors_by_layer"]["scan"] == 1
    # with only the ast layer, the graph still builds: the other layers' tables are empty
    assert summary["graph"]["nodes_by_kind"]["FILE"] == 14
    assert "SCOPE" not in summary["graph"]["nodes_by_kind"]
    assert summary["graph"]["edges_by_kind"]["AST"] > 0
