from pathlib import Path

from codeanatomy.scan.discover import discover
from tests import fixture_repos as fx


def test_fixture_repo_discovery_honours_gitignore_and_default_excludes(tmp_path):
    repo = fx.write_messy_repo(tmp_path)
    found = discover(repo)
    assert found.paths == sorted(fx.GOOD_FILES + fx.BAD_FILES)
    assert not set(found.paths) & set(fx.IGNORED_FILES)


def test_build_dirs_are_only_excluded_at_the_root(tmp_path):
    (tmp_path / "src/build").mkdir(parents=True)
    (tmp_path / "src/build/api.py").write_text("x = 1\n")
    (tmp_path / "build").mkdir()
    (tmp_path / "build/gen.py").write_text("x = 1\n")
    assert discover(tmp_path).paths == ["src/build/api.py"]


def test_nested_gitignore_overrides_with_negation(tmp_path):
    (tmp_path / ".gitignore").write_text("*.py\n!keep.py\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/.gitignore").write_text("!also.py\n")
    for rel in ("a.py", "keep.py", "sub/also.py", "sub/b.py"):
        (tmp_path / rel).write_text("x = 1\n")
    assert discover(tmp_path).paths == ["keep.py", "sub/also.py"]
    assert len(discover(tmp_path, use_gitignore=False).paths) == 4


def test_git_info_exclude_is_honoured(tmp_path):
    (tmp_path / ".git/info").mkdir(parents=True)
    (tmp_path / ".git/info/exclude").write_text("local_*.py\n")
    (tmp_path / "local_x.py").write_text("")
    (tmp_path / "m.py").write_text("")
    assert discover(tmp_path).paths == ["m.py"]


def test_include_and_exclude_globs(tmp_path):
    repo = fx.write_messy_repo(tmp_path)
    assert discover(repo, include=["pkg/"]).paths == sorted(
        p for p in fx.GOOD_FILES if p.startswith("pkg/")
    )
    assert "pkg/core.py" not in discover(repo, exclude=["core.py"]).paths
    assert discover(repo, include=["*.pyi"]).paths == ["pkg/stubs.pyi"]


def test_symlinks_stay_inside_the_root_and_loops_are_detected(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("x = 1\n")
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg/mod.py").write_text("x = 1\n")
    (repo / "escape").symlink_to(outside)
    (repo / "secret_link.py").symlink_to(outside / "secret.py")
    (repo / "alias").symlink_to(repo / "pkg")  # inside the root: scanned under its own path
    (repo / "pkg/loop").symlink_to(repo)  # back to an ancestor: a loop
    found = discover(repo)
    assert "escape/secret.py" not in found.paths
    assert "secret_link.py" not in found.paths
    assert found.paths == ["alias/mod.py", "pkg/mod.py"]
    issues = sorted((issue.kind, issue.path) for issue in found.issues)
    assert issues == [
        ("symlink_loop", "alias/loop"),
        ("symlink_loop", "pkg/loop"),
        ("symlink_outside_root", "escape"),
        ("symlink_outside_root", "secret_link.py"),
    ]


def test_virtualenv_recognised_by_pyvenv_cfg_whatever_its_name(tmp_path):
    (tmp_path / "myenv/lib").mkdir(parents=True)
    (tmp_path / "myenv/pyvenv.cfg").write_text("home = /usr\n")
    (tmp_path / "myenv/lib/x.py").write_text("")
    (tmp_path / "app.py").write_text("")
    assert discover(tmp_path).paths == ["app.py"]


def test_missing_root_is_reported_not_raised():
    found = discover(Path("/nonexistent/codeanatomy/repo"))
    assert found.paths == []
    assert found.issues[0].kind == "unreadable_dir"
