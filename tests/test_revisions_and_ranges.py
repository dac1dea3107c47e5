"""Which commits a check compares: revision names, CI ranges and the pre-push range (issue 13: 1, 6, 21).

Every base a check uses is its trust root, so a name that can mean two refs,
a push judged against the pushed branch's own past, or a push hook without a
remote base would let an attacker pick the rules their change is judged by.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers import AGENTPOLICY, EXPANDED_BILLING, GitRepo, Key, Run, approve, guarded_repo, run

PRE_COMMIT = [sys.executable, "-m", "pre_commit"]

PUSH_HOOK = f"""\
repos:
  - repo: local
    hooks:
      - id: agentpolicy-push
        name: agentpolicy (pushed range)
        entry: {AGENTPOLICY} check --pushed
        language: system
        pass_filenames: false
        always_run: true
        require_serial: true
        stages: [pre-push]
"""


# -- builders ------------------------------------------------------------------


def bare_remote(tmp_path: Path, repo: GitRepo, name: str = "remote.git") -> Path:
    remote = tmp_path / name
    run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], tmp_path, repo.env, check=True)
    return remote


def published(repo: GitRepo, keys: dict[str, Key], tmp_path: Path) -> GitRepo:
    """A guarded repository whose main is on a bare `origin` and fetched back (refs/remotes/origin/main)."""
    guarded_repo(repo, keys)
    repo.git("remote", "add", "origin", str(bare_remote(tmp_path, repo)))
    repo.git("push", "-q", "origin", "main")
    repo.git("fetch", "-q", "origin")
    return repo


def add_signer(repo: GitRepo, key: Key) -> None:
    signers = repo.path / ".agentpolicy" / "allowed_signers"
    signers.write_text(signers.read_text() + key.signer_line() + "\n")


def expand_approved_by(repo: GitRepo, key: Key) -> None:
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    done = approve(repo, key)
    assert done.code == 0, done.text


def attacker_branch(repo: GitRepo, keys: dict[str, Key], branch: str = "feature") -> tuple[str, str]:
    """Commit 1 adds mallory's key, commit 2 expands autonomy approved by mallory; both skip the hook."""
    repo.git("checkout", "-q", "-b", branch)
    add_signer(repo, keys["mallory"])
    first = repo.commit("add a signer")
    expand_approved_by(repo, keys["mallory"])
    second = repo.commit("expand, approved by the new signer")
    return first, second


def ci_env(repo: GitRepo, **variables: str) -> dict[str, str]:
    """The repo's environment with no CI variables of the machine running the tests, plus ``variables``."""
    env = {
        key: value
        for key, value in repo.env.items()
        if not key.startswith(("GITHUB_", "GITLAB_", "CI_", "CI"))
    }
    env.update(variables)
    return env


def github_push(repo: GitRepo, tmp_path: Path, ref: str, before: str, default: str | None) -> dict[str, str]:
    event: dict[str, object] = {"before": before, "after": repo.git("rev-parse", "HEAD").strip(), "ref": ref}
    if default is not None:
        event["repository"] = {"default_branch": default}
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return ci_env(
        repo,
        GITHUB_ACTIONS="true",
        GITHUB_EVENT_NAME="push",
        GITHUB_EVENT_PATH=str(path),
        GITHUB_REF=ref,
        GITHUB_BASE_REF="",
    )


# -- 1. ambiguous revision names ---------------------------------------------------


def test_attack_tag_shadowing_remote_branch_is_refused(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    published(repo, keys, tmp_path)
    attacker_branch(repo, keys)
    repo.git("tag", "origin/main")  # the attacker's own tip, pushed as a tag
    done = repo.ap("check", "--base", "origin/main")
    assert done.code == 2, done.text
    assert "ambiguous" in done.err
    assert "refs/tags/origin/main" in done.err and "refs/remotes/origin/main" in done.err
    spelled = repo.ap("check", "--base", "refs/remotes/origin/main")
    assert spelled.code == 1, spelled.text  # the full name means the remote branch, and the attack is seen


def test_attack_tag_shadowing_remote_branch_in_ci_pull_request_is_ignored(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    published(repo, keys, tmp_path)
    attacker_branch(repo, keys)
    repo.git("tag", "origin/main")
    env = ci_env(repo, GITHUB_ACTIONS="true", GITHUB_BASE_REF="main", GITHUB_EVENT_NAME="pull_request")
    done = repo.ap("check", "--ci", "--format", "text", env=env)
    assert done.code == 1, done.text  # judged against refs/remotes/origin/main, not the tag


def test_attack_tag_named_like_a_full_remote_ref_does_not_stand_in_for_it(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    guarded_repo(repo, keys)  # no remote: refs/remotes/origin/main does not exist
    attacker_branch(repo, keys)
    repo.git("tag", "refs/remotes/origin/main")  # refs/tags/refs/remotes/origin/main
    done = repo.ap("check", "--base", "refs/remotes/origin/main")
    assert done.code == 2, done.text
    assert "unknown revision 'refs/remotes/origin/main'" in done.err
    env = ci_env(repo, GITHUB_ACTIONS="true", GITHUB_BASE_REF="main", GITHUB_EVENT_NAME="pull_request")
    done = repo.ap("check", "--ci", "--format", "text", env=env)
    assert done.code == 1, done.text  # falls back to refs/heads/main, never to the tag


@pytest.mark.parametrize(
    ("name", "make", "meanings"),
    [
        ("main", ["tag main feature"], ["refs/tags/main", "refs/heads/main"]),
        ("origin/main", ["tag origin/main feature"], ["refs/tags/origin/main", "refs/remotes/origin/main"]),
        (
            "origin/main",
            ["branch origin/main feature"],
            ["refs/heads/origin/main", "refs/remotes/origin/main"],
        ),
        ("heads/main", ["tag heads/main feature"], ["refs/heads/main", "refs/tags/heads/main"]),
        ("origin", ["branch origin feature"], ["refs/heads/origin", "refs/remotes/origin/HEAD"]),
        ("tags/v1", ["tag v1 main", "branch tags/v1 feature"], ["refs/tags/v1", "refs/heads/tags/v1"]),
    ],
)
def test_attack_ambiguous_ref_names_are_refused_naming_every_ref(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path, name: str, make: list[str], meanings: list[str]
) -> None:
    published(repo, keys, tmp_path)
    repo.git("remote", "set-head", "origin", "main")
    attacker_branch(repo, keys)
    for command in make:
        repo.git(*command.split())
    done = repo.ap("check", "--base", name)
    assert done.code == 2, done.text
    assert f"revision {name!r} is ambiguous" in done.err
    for meaning in meanings:
        assert meaning in done.err
    assert "fix: spell the one you mean in full" in done.err


def test_attack_branch_named_like_a_commit_id_prefix_is_refused(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    published(repo, keys, tmp_path)
    main = repo.git("rev-parse", "main").strip()
    attacker_branch(repo, keys)
    repo.git("branch", main[:10], "feature")  # the reviewer meant the commit, git would take the branch
    done = repo.ap("check", "--base", main[:10])
    assert done.code == 2, done.text
    assert f"refs/heads/{main[:10]}" in done.err and main in done.err
    assert repo.ap("check", "--base", main).code == 1  # the whole id is never a ref


def test_attack_branch_named_like_a_missing_full_commit_id_is_refused(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    published(repo, keys, tmp_path)
    attacker_branch(repo, keys)
    missing = "1234567890" * 4  # e.g. a CI `before` commit this clone does not have
    repo.git("update-ref", f"refs/heads/{missing}", "feature")
    done = repo.ap("check", "--base", missing)
    assert done.code == 2, done.text
    assert f"unknown revision {missing!r}" in done.err


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--base", "refs/remotes/origin/main", "--head", "origin/main"],
        ["audit", "--rev", "origin/main"],
        ["audit", "--rev", "origin/main..feature"],
        ["audit", "--rev", "refs/remotes/origin/main..origin/main"],
        ["status", "--rev", "origin/main"],
        ["check", "--base", "origin/main~1"],
        ["check", "--base", "origin/main^"],
        ["check", "--base", "origin/main@{0}"],
    ],
)
def test_attack_ambiguous_names_are_refused_in_every_command_and_suffix_form(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path, args: list[str]
) -> None:
    published(repo, keys, tmp_path)
    attacker_branch(repo, keys)
    repo.git("tag", "origin/main")
    done = repo.ap(*args)
    assert done.code == 2, done.text
    assert "refs/tags/origin/main" in done.err and "refs/remotes/origin/main" in done.err


def test_suffixed_names_still_resolve_and_the_fix_keeps_the_suffix(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    published(repo, keys, tmp_path)
    attacker_branch(repo, keys)
    for base in ("main", "main~0", "feature~2", "feature^^", "main@{0}", "origin/main", "@~2", "HEAD~2"):
        done = repo.ap("check", "--base", base)
        assert done.code == 1, (base, done.text)
    assert repo.ap("check", "--base", "main", "--head", "feature~2").code == 0
    assert repo.ap("audit", "--rev", "main..feature", "--format", "json").code == 0
    assert repo.ap("status", "--rev", "feature~1", "--format", "json").code == 0
    repo.git("tag", "origin/main")
    done = repo.ap("check", "--base", "origin/main~1")
    assert done.code == 2
    assert "refs/remotes/origin/main~1" in done.err


# -- 6. push events judged against the default branch ----------------------------


def test_attack_github_push_to_a_branch_trusting_its_own_new_signer_is_refused(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    published(repo, keys, tmp_path)
    first, _ = attacker_branch(repo, keys)
    env = github_push(repo, tmp_path, "refs/heads/feature", before=first, default="main")
    done = repo.ap("check", "--ci", "--format", "text", env=env)
    assert done.code == 1, done.text  # judged against refs/remotes/origin/main: mallory is nobody there


@pytest.mark.parametrize(
    ("ref", "extra"),
    [
        ("refs/tags/v9", {}),  # a tag push
        ("refs/heads/gh-readonly-queue/main/pr-1", {"merge_group": {"base_ref": "refs/heads/main"}}),
    ],
)
def test_attack_github_tag_push_and_merge_queue_are_judged_against_the_default_branch(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path, ref: str, extra: dict[str, object]
) -> None:
    published(repo, keys, tmp_path)
    first, _ = attacker_branch(repo, keys)
    env = github_push(repo, tmp_path, ref, before=first, default="main")
    event = json.loads(Path(env["GITHUB_EVENT_PATH"]).read_text())
    Path(env["GITHUB_EVENT_PATH"]).write_text(json.dumps({**event, **extra}))
    done = repo.ap("check", "--ci", "--format", "text", env=env)
    assert done.code == 1, done.text


def test_github_push_to_the_default_branch_uses_the_event_before(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    published(repo, keys, tmp_path)
    before = repo.git("rev-parse", "HEAD").strip()
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.commit("expand without review")
    repo.git("push", "-q", "origin", "main")
    repo.git("fetch", "-q", "origin")  # the checkout: origin/main is the pushed commit itself
    env = github_push(repo, tmp_path, "refs/heads/main", before=before, default="main")
    done = repo.ap("check", "--ci", "--format", "json", env=env)
    assert done.code == 1, done.text
    assert [c["agent"] for c in json.loads(done.out)["changes"]] == ["billing-cycle"]


def test_github_push_without_a_default_branch_in_the_payload_finds_it_in_the_clone(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    published(repo, keys, tmp_path)
    first, _ = attacker_branch(repo, keys)
    env = github_push(repo, tmp_path, "refs/heads/feature", before=first, default=None)
    done = repo.ap("check", "--ci", "--format", "text", env=env)
    assert done.code == 1, done.text  # the only one of main/master: refs/remotes/origin/main
    assert "merge-base(refs/remotes/origin/main, HEAD)" in done.out
    env["GITHUB_REF"] = ""
    done = repo.ap("check", "--ci", env=env)
    assert done.code == 2, done.text
    assert "GITHUB_REF" in done.err and "fix: " in done.err


def test_github_first_push_to_the_default_branch_is_a_whole_tree_policy_check(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    published(repo, keys, tmp_path)
    env = github_push(repo, tmp_path, "refs/heads/main", before="0" * 40, default="main")
    done = repo.ap("check", "--ci", "--format", "text", env=env)
    assert done.code == 0, done.text
    assert "whole-tree policy check" in done.out and "all zeros" in done.out


def test_github_push_to_a_branch_when_the_default_branch_was_not_fetched_is_exit_2(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    published(repo, keys, tmp_path)
    first, _ = attacker_branch(repo, keys)
    env = github_push(repo, tmp_path, "refs/heads/feature", before=first, default="trunk")
    done = repo.ap("check", "--ci", env=env)
    assert done.code == 2, done.text
    assert "trunk" in done.err and "git fetch" in done.err


def test_attack_gitlab_push_to_a_branch_trusting_its_own_new_signer_is_refused(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    published(repo, keys, tmp_path)
    first, _ = attacker_branch(repo, keys)
    env = ci_env(
        repo,
        GITLAB_CI="true",
        CI_PIPELINE_SOURCE="push",
        CI_COMMIT_BRANCH="feature",
        CI_DEFAULT_BRANCH="main",
        CI_COMMIT_BEFORE_SHA=first,
    )
    done = repo.ap("check", "--ci", "--format", "text", env=env)
    assert done.code == 1, done.text


def test_gitlab_push_to_the_default_branch_uses_the_before_sha(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    published(repo, keys, tmp_path)
    before = repo.git("rev-parse", "HEAD").strip()
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.commit("expand without review")
    repo.git("push", "-q", "origin", "main")
    repo.git("fetch", "-q", "origin")
    env = ci_env(
        repo, GITLAB_CI="true", CI_COMMIT_BRANCH="main", CI_DEFAULT_BRANCH="main", CI_COMMIT_BEFORE_SHA=before
    )
    assert repo.ap("check", "--ci", "--format", "text", env=env).code == 1
    env.pop("CI_DEFAULT_BRANCH")  # found in the clone instead: the only one of main/master
    done = repo.ap("check", "--ci", "--format", "text", env=env)
    assert done.code == 1, done.text
    assert f"merge-base(CI_COMMIT_BEFORE_SHA {before[:12]}, HEAD)" in done.out


def test_gitlab_merge_request_is_judged_against_the_target_branch_not_the_diff_base(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    published(repo, keys, tmp_path)
    first, _ = attacker_branch(repo, keys)
    env = ci_env(
        repo,
        GITLAB_CI="true",
        CI_PIPELINE_SOURCE="merge_request_event",
        CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main",
        CI_MERGE_REQUEST_DIFF_BASE_SHA=first,  # whatever it says, the target branch's tip is the base
        CI_DEFAULT_BRANCH="main",
    )
    done = repo.ap("check", "--ci", "--format", "text", env=env)
    assert done.code == 1, done.text
    env["CI_MERGE_REQUEST_TARGET_BRANCH_NAME"] = "release"  # not fetched into this clone
    done = repo.ap("check", "--ci", env=env)
    assert done.code == 2, done.text
    assert "release" in done.err and "git fetch" in done.err


# -- 21. the push hook without a remote base ---------------------------------------


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def hooked(repo: GitRepo, keys: dict[str, Key], pre_commit_home: Path) -> GitRepo:
    """A guarded repository with agentpolicy as its pre-push hook (through the real pre-commit)."""
    repo.env["PRE_COMMIT_HOME"] = str(pre_commit_home)
    guarded_repo(repo, keys)
    repo.write(".pre-commit-config.yaml", PUSH_HOOK)
    repo.commit("hooks")
    run([*PRE_COMMIT, "install", "--hook-type", "pre-push"], repo.path, repo.env, check=True)
    return repo


def push(repo: GitRepo, *args: str) -> Run:
    return run(["git", "push", *args], repo.path, repo.env)


def with_origin(repo: GitRepo, tmp_path: Path) -> Path:
    remote = bare_remote(tmp_path, repo)
    repo.git("remote", "add", "origin", str(remote))
    done = push(repo, "-q", "--no-verify", "origin", "main")
    assert done.code == 0, done.text
    return remote


def self_approved_takeover(repo: GitRepo, keys: dict[str, Key]) -> None:
    """One commit: mallory's key added, autonomy expanded, approved by mallory, past the commit hook.

    Judged against nothing, the commit would be its own trust root; the old entries go so that no
    stale approval gives it away.
    """
    shutil.rmtree(repo.path / "reviews")
    add_signer(repo, keys["mallory"])
    expand_approved_by(repo, keys["mallory"])
    repo.commit("takeover")


def test_attack_push_by_url_of_a_new_branch_is_refused(
    hooked: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    remote = with_origin(hooked, tmp_path)
    self_approved_takeover(hooked, keys)
    done = push(hooked, str(remote), "HEAD:refs/heads/evil")
    assert done.code != 0, done.text
    assert "not a named remote" in done.text and "git remote add" in done.text
    assert "refs/heads/evil" not in hooked.git("ls-remote", str(remote))


def test_attack_push_to_a_remote_without_tracking_refs_is_refused(
    hooked: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    remote = with_origin(hooked, tmp_path)
    hooked.git("remote", "add", "mirror", str(remote))  # never fetched: nothing of it is known here
    self_approved_takeover(hooked, keys)
    done = push(hooked, "mirror", "HEAD:refs/heads/evil")
    assert done.code != 0, done.text
    assert "git fetch mirror" in done.text


def test_attack_orphan_branch_push_is_refused(hooked: GitRepo, keys: dict[str, Key], tmp_path: Path) -> None:
    with_origin(hooked, tmp_path)
    hooked.git("fetch", "-q", "origin")
    hooked.git("checkout", "-q", "--orphan", "evil")
    self_approved_takeover(hooked, keys)
    done = push(hooked, "origin", "evil")
    assert done.code != 0, done.text
    assert "shares no history" in done.text and "origin/main" in done.text


def test_attack_new_branch_stacked_on_an_unreviewed_remote_branch_is_judged_against_main(
    hooked: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    with_origin(hooked, tmp_path)
    hooked.git("checkout", "-q", "-b", "staging")
    add_signer(hooked, keys["mallory"])
    hooked.commit("add a signer")
    assert push(hooked, "-q", "--no-verify", "origin", "staging").code == 0  # past the hook, once
    hooked.git("checkout", "-q", "-b", "evil")
    expand_approved_by(hooked, keys["mallory"])
    hooked.commit("expand, approved by the new signer")
    done = push(hooked, "origin", "evil")  # pre-commit offers staging's tip as the base
    assert done.code != 0, done.text
    assert "AP" in done.text


def test_first_push_of_a_new_repository_is_refused_with_the_bootstrap_fix(
    hooked: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    remote = bare_remote(tmp_path, hooked)
    hooked.git("remote", "add", "origin", str(remote))
    done = push(hooked, "origin", "main")
    assert done.code != 0, done.text
    assert "--no-verify" in done.text and "agentpolicy audit" in done.text
    assert push(hooked, "-q", "--no-verify", "origin", "main").code == 0  # the bootstrap
    hooked.git("checkout", "-q", "-b", "feature")
    expand_approved_by(hooked, keys["rev"])
    hooked.commit("expand, reviewed")
    done = push(hooked, "origin", "feature")  # a new branch: judged against origin/main
    assert done.code == 0, done.text
    hooked.git("checkout", "-q", "main")
    hooked.git("merge", "-q", "--ff-only", "feature")
    done = push(hooked, "origin", "main")  # an existing branch: judged against its remote tip
    assert done.code == 0, done.text


def test_push_hook_with_two_candidate_default_branches_asks_for_set_head(
    hooked: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    with_origin(hooked, tmp_path)
    assert push(hooked, "-q", "--no-verify", "origin", "main:master").code == 0
    hooked.git("fetch", "-q", "origin")
    hooked.git("checkout", "-q", "--orphan", "other")
    self_approved_takeover(hooked, keys)
    done = push(hooked, "origin", "other")
    assert done.code != 0, done.text
    assert "git remote set-head origin" in done.text
