"""Shared fixtures: the messy fixture repository and one default build of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeanatomy.artifacts import RunManifest
from codeanatomy.build import BuildOptions, build
from tests.fixture_repos import write_messy_repo


@pytest.fixture(scope="session")
def messy_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_messy_repo(tmp_path_factory.mktemp("messy_repo"))


@pytest.fixture(scope="session")
def messy_build(
    messy_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, RunManifest]:
    out = tmp_path_factory.mktemp("messy_out")
    return out, build(BuildOptions(repo=messy_repo, out=out, jobs=2))
