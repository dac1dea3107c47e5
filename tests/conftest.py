from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import GitRepo, Key, make_key


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def repo(tmp_path: Path, home: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo", home)


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Key]:
    """Real ssh-keygen keys, made once: two reviewers, the author, and an outsider."""
    folder = tmp_path_factory.mktemp("keys")
    return {name: make_key(folder, f"{name}@example.com") for name in ("rev", "rev2", "dev", "mallory")}
