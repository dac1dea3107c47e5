"""Messages for what users meet in real environments (issue 15)."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.helpers import BILLING, GitRepo, Key, approve, guarded_repo


@pytest.mark.skipif(os.geteuid() != 0, reason="handing the repository to another user needs root")
def test_a_repository_owned_by_someone_else_gets_gits_own_fix_line(repo: GitRepo) -> None:
    repo.write("notes.txt", "x\n")
    repo.commit("first")
    subprocess.run(["chown", "-R", "nobody", str(repo.path)], check=True)
    try:
        for args in (["check"], ["audit"], ["status"]):
            done = repo.ap(*args)
            assert done.code == 2, done.text
            assert f"git config --global --add safe.directory {repo.path}" in done.err, done.err
            assert "check that .git is intact" not in done.err
    finally:
        subprocess.run(["chown", "-R", "root", str(repo.path)], check=True)


def test_approve_names_a_committed_agent_that_grew_past_the_limit_and_writes_nothing(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", BILLING + "# " + "x" * (1024 * 1024 + 10) + "\n")
    before = sorted(p.name for p in (repo.path / "reviews").rglob("*.yaml"))
    done = approve(repo, keys["rev2"])
    assert done.code == 2, done.text
    assert "agents/billing-cycle.yaml defines billing-cycle at HEAD but cannot be read now" in done.err
    assert "AP00" in done.err and "retire" not in done.out
    assert sorted(p.name for p in (repo.path / "reviews").rglob("*.yaml")) == before


def test_approve_of_an_unknown_name_lists_the_files_it_could_not_read(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write(
        "agents/huge.yaml", BILLING.replace("billing-cycle", "huge") + "#" + "x" * (1024 * 1024) + "\n"
    )
    done = approve(repo, keys["rev2"], "huge")
    assert done.code == 2, done.text
    assert "no agent named 'huge'" in done.err and "agents/huge.yaml cannot be read" in done.err, done.err
    assert not (repo.path / "reviews" / "huge").exists()
