"""Finding the range to check from the environment: the CI's (`check --ci`) and pre-commit's (`--pushed`).

The base a check is given is its trust root and, for the gate, "the target
tip": the current tip of the branch the change goes into. So the base is
always a trusted branch named in full (`refs/remotes/origin/<branch>`; a
short name could be shadowed by a pushed tag), never the pushed branch's own
past: a branch that is not the default is judged against the default branch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentpolicy.errors import AgentPolicyError, GitError

if TYPE_CHECKING:
    from agentpolicy.gitrepo import Repo

_ZERO = "0" * 40


@dataclass(frozen=True)
class CiRange:
    provider: str
    base_candidates: tuple[str, ...]  # the first one that resolves is the base
    summary_path: str | None = None
    default_format: str | None = None


def detect(env: Mapping[str, str] = os.environ) -> CiRange:
    if env.get("GITHUB_ACTIONS") == "true":
        return _github(env)
    if env.get("GITLAB_CI") == "true":
        return _gitlab(env)
    raise AgentPolicyError(
        "--ci found no CI environment (GITHUB_ACTIONS or GITLAB_CI is not set)",
        "outside CI, name the base: agentpolicy check --base refs/remotes/origin/main",
    )


def branch_candidates(branch: str) -> tuple[str, ...]:
    """The remote-tracking branch when it was fetched, else the local one (CI checkouts differ)."""
    return (f"refs/remotes/origin/{branch}", f"refs/heads/{branch}")


def _github(env: Mapping[str, str]) -> CiRange:
    summary = env.get("GITHUB_STEP_SUMMARY") or None
    base_ref = env.get("GITHUB_BASE_REF", "")
    if base_ref:  # a pull request: its target branch
        return CiRange("github", branch_candidates(base_ref), summary, "github")
    event = _github_event(env)
    queued = _text(event, "merge_group", "base_ref")
    if queued.startswith("refs/heads/"):  # a merge queue: the branch it merges into
        return CiRange("github", branch_candidates(queued.removeprefix("refs/heads/")), summary, "github")
    default = _text(event, "repository", "default_branch")
    pushed = env.get("GITHUB_REF", "")
    if not default or not pushed:
        missing = "repository.default_branch in the event payload" if not default else "GITHUB_REF"
        raise AgentPolicyError(
            f"--ci cannot tell the default branch to judge this push against: {missing} is missing "
            f"(event file: {env.get('GITHUB_EVENT_PATH') or 'GITHUB_EVENT_PATH is not set'})",
            "pass the base explicitly, e.g. --base refs/remotes/origin/main (and check out with "
            "fetch-depth: 0)",
        )
    if pushed != f"refs/heads/{default}":
        return CiRange("github", branch_candidates(default), summary, "github")
    before = _text(event, "before")
    if before and before != _ZERO:
        return CiRange("github", (before,), summary, "github")
    raise AgentPolicyError(
        f"--ci cannot tell which range to check: this run on the default branch {default} has no "
        "`before` commit (a new branch, or not a push event)",
        "pass --base explicitly, e.g. --base <the commit before the change> (and check out with "
        "fetch-depth: 0); the first push of a new repository is not checked: `agentpolicy audit` lists it",
    )


def _github_event(env: Mapping[str, str]) -> dict[str, object]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            event = json.load(handle)
    except (OSError, ValueError):
        return {}
    return event if isinstance(event, dict) else {}


def _text(event: Mapping[str, object], *keys: str) -> str:
    value: object = event
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else ""


def _gitlab(env: Mapping[str, str]) -> CiRange:
    target = env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "")
    if target:  # a merge request: the target branch's tip, not the diff base
        return CiRange("gitlab", branch_candidates(target))
    diff_base = env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA", "")
    if diff_base and diff_base != _ZERO:  # older GitLab without the target branch name
        return CiRange("gitlab", (diff_base,))
    default = env.get("CI_DEFAULT_BRANCH", "")
    if not default:
        raise AgentPolicyError(
            "--ci cannot tell the default branch to judge this pipeline against: "
            "CI_DEFAULT_BRANCH is not set",
            "pass the base explicitly, e.g. --base refs/remotes/origin/main (and set GIT_DEPTH: 0)",
        )
    if env.get("CI_COMMIT_BRANCH", "") != default:
        return CiRange("gitlab", branch_candidates(default))
    before = env.get("CI_COMMIT_BEFORE_SHA", "")
    if before and before != _ZERO:
        return CiRange("gitlab", (before,))
    raise AgentPolicyError(
        f"--ci cannot tell which range to check: this pipeline on the default branch {default} has no "
        "CI_COMMIT_BEFORE_SHA (a new branch, or not a push pipeline)",
        "pass --base explicitly, e.g. --base <the commit before the change> (and set GIT_DEPTH: 0)",
    )


# -- the pre-push hook -------------------------------------------------------------


@dataclass(frozen=True)
class PushedRange:
    base: str
    head: str


def pushed_range(repo: Repo, env: Mapping[str, str] = os.environ) -> PushedRange:
    """The range pre-commit's pre-push stage hands over, judged against a trusted before side.

    pre-commit gives the remote ref's tip when it knows it; for a new branch
    it gives the parent of the first commit no remote-tracking ref has (which
    may be some other unreviewed branch), and for a push by URL or of a
    history with a root commit it gives nothing. Only the verified tip of the
    ref being updated is used; otherwise the remote's default branch is.
    """
    to_ref = env.get("PRE_COMMIT_TO_REF", "")
    head = to_ref if to_ref.strip("0") else env.get("PRE_COMMIT_LOCAL_BRANCH", "")
    from_ref = env.get("PRE_COMMIT_FROM_REF", "")
    remote = env.get("PRE_COMMIT_REMOTE_NAME", "")
    remote_ref = env.get("PRE_COMMIT_REMOTE_BRANCH", "")
    if not remote:
        raise AgentPolicyError(
            "--pushed needs PRE_COMMIT_REMOTE_NAME, which pre-commit (2.0 and later) sets in the "
            "pre-push stage",
            "upgrade pre-commit, or check the range by hand: agentpolicy check --base REV --head REV",
        )
    if from_ref.strip("0") and remote_ref:
        tracking = repo.tracking_ref(remote, remote_ref)
        if tracking is not None and repo.ref_commit(tracking) == from_ref:
            return PushedRange(tracking, head)
    default = remote_default_branch(repo, remote)
    if not repo.has_merge_base(repo.resolve(default), repo.resolve(head)):
        short = default.removeprefix("refs/remotes/")
        raise GitError(
            f"the pushed history shares no history with {short}, the default branch it is judged against "
            "(an orphan branch): there is nothing trusted to judge it by",
            f"build the branch on top of {short}; a branch without governed content (e.g. gh-pages) "
            "can be pushed with `git push --no-verify`",
        )
    return PushedRange(default, head)


def remote_default_branch(repo: Repo, remote: str) -> str:
    """`refs/remotes/<remote>/HEAD`'s branch, else the one of main/master the remote has."""
    if not repo.is_remote(remote):
        raise GitError(
            f"the push goes to {remote!r}, which is not a named remote: nothing of it is known here to "
            "judge the push against (the pushed content cannot vouch for itself)",
            "add it as a remote and fetch it, then push to that name: "
            "git remote add upstream URL && git fetch upstream && git push upstream BRANCH",
        )
    prefix = f"refs/remotes/{remote}/"
    pointed = repo.ref_name(prefix + "HEAD")
    if pointed is not None and pointed != prefix + "HEAD" and repo.ref_commit(pointed) is not None:
        return pointed
    usual = [prefix + name for name in ("main", "master") if repo.ref_commit(prefix + name) is not None]
    if len(usual) == 1:
        return usual[0]
    if usual or repo.ref_names(prefix):
        raise GitError(
            f"cannot tell which branch of {remote!r} is its default branch, to judge this push against",
            f"record it: git remote set-head {remote} --auto",
        )
    raise GitError(
        f"nothing is known here of the branches of {remote!r} (never fetched, or an empty repository): "
        "there is no trusted before side to judge this push against, and the pushed content cannot "
        "vouch for itself",
        f"if {remote} has branches, fetch them first: git fetch {remote} && git remote set-head {remote} "
        "--auto; if this is the first push of a new repository, push the bootstrap commit once with "
        "`git push --no-verify` (`agentpolicy audit` lists it)",
    )
