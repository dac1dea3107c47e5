"""The real pre-commit framework drives the hooks in throwaway consumer repositories."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers import AGENTPOLICY, EXPANDED_BILLING, GitRepo, Key, approve, guarded_repo, run

ROOT = Path(__file__).resolve().parent.parent
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]

LOCAL_HOOKS = f"""\
repos:
  - repo: local
    hooks:
      - id: agentpolicy
        name: agentpolicy
        entry: {AGENTPOLICY} check --staged
        language: system
        pass_filenames: false
        always_run: true
        require_serial: true
        stages: [pre-commit]
      - id: agentpolicy-push
        name: agentpolicy (pushed range)
        entry: {AGENTPOLICY} check --pushed
        language: system
        pass_filenames: false
        always_run: true
        require_serial: true
        stages: [pre-push]
"""


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def hooked(repo: GitRepo, keys: dict[str, Key], pre_commit_home: Path) -> GitRepo:
    repo.env["PRE_COMMIT_HOME"] = str(pre_commit_home)
    guarded_repo(repo, keys)
    repo.write(".pre-commit-config.yaml", LOCAL_HOOKS)
    repo.commit("hooks")
    run(
        [*PRE_COMMIT, "install", "--hook-type", "pre-commit", "--hook-type", "pre-push"],
        repo.path,
        repo.env,
        check=True,
    )
    return repo


def git_commit(repo: GitRepo, *args: str) -> tuple[int, str]:
    done = run(["git", "commit", "-m", "change", *args], repo.path, repo.env)
    return done.code, done.text


def test_try_repo_uses_the_published_hook_definition(
    repo: GitRepo, keys: dict[str, Key], pre_commit_home: Path
) -> None:
    repo.env["PRE_COMMIT_HOME"] = str(pre_commit_home)
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.stage()
    refused = run([*PRE_COMMIT, "try-repo", str(ROOT), "agentpolicy", "--verbose"], repo.path, repo.env)
    assert refused.code == 1, refused.text
    assert "autonomy expanded (submit-to-client-portal is now autonomous)" in refused.out
    assert approve(repo, keys["rev"]).code == 0
    repo.stage()
    passed = run([*PRE_COMMIT, "try-repo", str(ROOT), "agentpolicy"], repo.path, repo.env)
    assert passed.code == 0, passed.text


def test_the_hook_refuses_an_unreviewed_expansion_and_accepts_it_with_a_review(
    hooked: GitRepo, keys: dict[str, Key]
) -> None:
    hooked.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    hooked.stage()
    code, output = git_commit(hooked)
    assert code == 1
    assert "AP201 billing-cycle 1.4.0 -> 1.5.0" in output
    assert hooked.git("rev-list", "--count", "HEAD").strip() == "2"
    assert approve(hooked, keys["rev"]).code == 0
    hooked.stage()
    code, output = git_commit(hooked)
    assert code == 0, output
    assert hooked.git("rev-list", "--count", "HEAD").strip() == "3"


def test_the_hook_sees_what_commit_all_stages_into_a_temporary_index(hooked: GitRepo) -> None:
    hooked.write("agents/billing-cycle.yaml", EXPANDED_BILLING)  # modified, not staged
    code, output = git_commit(hooked, "-a")
    assert code == 1, output
    assert "AP201" in output


def test_the_hook_sees_a_deletion_that_pre_commit_does_not_list(hooked: GitRepo) -> None:
    hooked.git("rm", "-q", "agents/billing-cycle.yaml")
    code, output = git_commit(hooked)
    assert code == 1
    assert "billing-cycle 1.4.0: deleted" in output


def test_the_push_hook_refuses_a_commit_that_skipped_the_hook(hooked: GitRepo, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    run(["git", "init", "-q", "--bare", str(remote)], tmp_path, hooked.env, check=True)
    hooked.git("remote", "add", "origin", str(remote))
    # The first push of a new repository has no trusted before side: it is the bootstrap, past the hook.
    pushed = run(["git", "push", "-q", "--no-verify", "origin", "main"], hooked.path, hooked.env)
    assert pushed.code == 0, pushed.text
    hooked.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    hooked.commit("sneaky", verify=False)  # --no-verify
    refused = run(["git", "push", "origin", "main"], hooked.path, hooked.env)
    assert refused.code != 0
    assert "AP201" in refused.text
