"""Choosing the range `check --ci` checks, from what the CI hands over (read by ``ci_env``).

The base a check is given is its trust root and, for the gate, "the target
tip": the current tip of the branch the change goes into. So the base is
always a trusted branch named in full (`refs/remotes/origin/<branch>`; a
short name could be shadowed by a pushed tag), never the pushed branch's own
past: a branch that is not the default is judged against the default branch.

Every event a workflow gets has a range (docs/ci.md, "Which range `--ci`
checks"): a pull request its target branch, a push to the default branch its
`before`, everything else the default branch's merge base with HEAD. Where
HEAD is already on the base (a schedule on the default branch) or the push
created the default branch (nothing before it), the range is empty: a
whole-tree policy check, and the note says so. The variables and the event
payload are input someone else wrote: a value the CI would never send stops
the check naming it, rather than moving the range.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentpolicy.app.ci_env import (
    COMMIT_ID,
    PASS_BASE,
    ZERO_ID,
    CiRun,
    EventPayload,
    branch_name,
    detect,
    refuse,
)
from agentpolicy.errors import AgentPolicyError, GitError
from agentpolicy.git.repo import FETCH_FULL_HISTORY
from agentpolicy.report.safe import visible

__all__ = ["CiRange", "CiRun", "branch_candidates", "choose_range", "detect"]

if TYPE_CHECKING:
    from agentpolicy.git.repo import Repo

_ORIGIN = "refs/remotes/origin/"


@dataclass(frozen=True)
class CiRange:
    base: str  # what `check --base` is given: a full ref name or a commit id
    note: str  # one line: the event, the range, and why


def choose_range(repo: Repo, run: CiRun) -> CiRange:
    """The base for this run's event, checked against the clone, and the note that says why."""
    return _github(repo, run.env) if run.provider == "GitHub" else _gitlab(repo, run.env)


def branch_candidates(branch: str) -> tuple[str, ...]:
    """The remote-tracking branch when it was fetched, else the local one (CI checkouts differ)."""
    return (f"{_ORIGIN}{branch}", f"refs/heads/{branch}")


# -- GitHub Actions ------------------------------------------------------------------


def _github(repo: Repo, env: Mapping[str, str]) -> CiRange:
    event_name = env.get("GITHUB_EVENT_NAME", "")
    label = f"GitHub {visible(event_name) or 'run'}"
    payload = EventPayload.read(env)
    base_ref = env.get("GITHUB_BASE_REF", "")
    if base_ref:  # pull_request, pull_request_target: the target branch
        target = branch_name(base_ref, "GITHUB_BASE_REF")
        return _against(repo, f"{label} into {target}", _branch_tip(repo, target, "GITHUB_BASE_REF"))
    pr_base = payload.text("pull_request", "base", "ref")
    if pr_base:  # pull_request_review and the like, where GitHub leaves GITHUB_BASE_REF empty
        source = payload.name("pull_request", "base", "ref")
        target = branch_name(pr_base, source)
        return _against(repo, f"{label} into {target}", _branch_tip(repo, target, source))
    if event_name == "merge_group":
        return _merge_group(repo, label, payload)
    stated = payload.text("repository", "default_branch")
    default, default_ref = _default_branch(repo, stated, payload.name("repository", "default_branch"))
    if event_name != "push":
        return _against(repo, label, default_ref, f"the default branch {default}")
    pushed = env.get("GITHUB_REF", "")
    if not pushed:
        raise AgentPolicyError(
            "--ci cannot tell which branch this push updated: GITHUB_REF is not set",
            f"run it in a workflow step, where GitHub sets GITHUB_REF, or {PASS_BASE}",
        )
    if pushed != f"refs/heads/{default}":  # another branch or a tag: judged by the default branch
        return _against(repo, f"{label} to {visible(pushed)}", default_ref, f"the default branch {default}")
    label = f"{label} to {default} (the default branch)"
    before = payload.text("before")
    source = payload.name("before")
    if ZERO_ID.fullmatch(before):
        if payload.value("created") is False:
            refuse(
                source, before, "is all zeros, but the push did not create the branch (`created` is false)"
            )
        return _whole_tree(
            repo,
            label,
            "the event's `before` is all zeros: this push created the default branch (a first push), "
            "so no commit before it can judge it; `agentpolicy audit` replays its history",
        )
    return _against(repo, label, _commit(repo, before, source), "the event's `before`")


def _merge_group(repo: Repo, label: str, payload: EventPayload) -> CiRange:
    """A merge queue's group: judged by the branch it merges into, its own head and base checked."""
    base_ref = payload.text("merge_group", "base_ref")
    ref_source = payload.name("merge_group", "base_ref")
    if not base_ref.startswith("refs/heads/"):
        refuse(ref_source, base_ref, "is not a branch (refs/heads/...)")
    target = branch_name(base_ref.removeprefix("refs/heads/"), ref_source)
    head = repo.resolve("HEAD")
    head_sha = payload.text("merge_group", "head_sha")
    if head_sha and _commit(repo, head_sha, payload.name("merge_group", "head_sha")) != head:
        refuse(
            payload.name("merge_group", "head_sha"),
            head_sha,
            f"is not HEAD ({head[:12]}): this checkout is not the merge group's head",
            "check out the merge group's commit (actions/checkout does so by default)",
        )
    base_sha = payload.text("merge_group", "base_sha")
    extra = ""
    if base_sha:
        source = payload.name("merge_group", "base_sha")
        found = _commit(repo, base_sha, source)
        if not repo.has_merge_base(found, head) or repo.merge_base(found, head) != found:
            refuse(source, base_sha, f"is not an ancestor of HEAD ({head[:12]})")
        extra = f", merge_group.base_sha {found[:12]}"
    return _against(repo, f"{label} into {target}{extra}", _branch_tip(repo, target, ref_source))


# -- GitLab CI -----------------------------------------------------------------------


def _gitlab(repo: Repo, env: Mapping[str, str]) -> CiRange:
    source = env.get("CI_PIPELINE_SOURCE", "")
    label = f"GitLab {visible(source) or 'pipeline'}"
    diff_base = env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA", "")
    if diff_base and not ZERO_ID.fullmatch(diff_base) and not COMMIT_ID.fullmatch(diff_base):
        refuse("CI_MERGE_REQUEST_DIFF_BASE_SHA", diff_base, "is not a full commit id")
    target = env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "")
    if target:  # a merge request: the target branch's tip, not the diff base
        name = branch_name(target, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
        tip = _branch_tip(repo, name, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
        return _against(repo, f"{label} into {name}", tip)
    if diff_base and not ZERO_ID.fullmatch(diff_base):  # older GitLab without the target branch name
        found = _commit(repo, diff_base, "CI_MERGE_REQUEST_DIFF_BASE_SHA")
        return _against(repo, label, found, "CI_MERGE_REQUEST_DIFF_BASE_SHA")
    default, default_ref = _default_branch(repo, env.get("CI_DEFAULT_BRANCH", ""), "CI_DEFAULT_BRANCH")
    branch = env.get("CI_COMMIT_BRANCH", "")
    if branch:
        branch_name(branch, "CI_COMMIT_BRANCH")
    if branch != default or source not in ("push", ""):  # other branches, tags, schedules, web, api...
        return _against(repo, label, default_ref, f"the default branch {default}")
    label = f"{label} to {default} (the default branch)"
    before = env.get("CI_COMMIT_BEFORE_SHA", "")
    if not before:
        raise AgentPolicyError(
            f"--ci cannot tell which range this push to the default branch {default} brought: "
            "CI_COMMIT_BEFORE_SHA is not set",
            f"run it in a push pipeline, where GitLab sets it, or {PASS_BASE}",
        )
    if ZERO_ID.fullmatch(before):
        return _whole_tree(
            repo,
            label,
            "CI_COMMIT_BEFORE_SHA is all zeros: this push created the default branch (a new branch), "
            "so no commit before it can judge it; `agentpolicy audit` replays its history",
        )
    return _against(repo, label, _commit(repo, before, "CI_COMMIT_BEFORE_SHA"), "CI_COMMIT_BEFORE_SHA")


# -- shared: names, commits, the default branch, the note ------------------------------


def _branch_tip(repo: Repo, branch: str, source: str) -> str:
    """The full name of the branch's remote-tracking ref, else of the local branch; never a tag."""
    for candidate in branch_candidates(branch):
        if repo.ref_commit(candidate) is not None:
            return candidate
    hint = f"fetch it: git fetch origin {branch} (GitHub Actions: actions/checkout with fetch-depth: 0)"
    if repo.is_shallow:
        hint = f"this clone is shallow: {FETCH_FULL_HISTORY}"
    raise GitError(
        f"--ci judges this run against the branch {branch} ({source}), which is not in this clone "
        f"(neither {' nor '.join(branch_candidates(branch))})",
        hint,
    )


def _commit(repo: Repo, value: str, source: str) -> str:
    """A full commit id that this clone has; anything else (a name, `HEAD`, an option) stops."""
    if not COMMIT_ID.fullmatch(value):
        refuse(source, value, "is not a full commit id")
    try:
        return repo.resolve(value)
    except GitError as exc:
        raise GitError(
            f"--ci cannot use {source}: commit {value} is not in this clone",
            exc.hint + "; if the branch was force-pushed, the commit is gone: " + PASS_BASE,
        ) from None


def _default_branch(repo: Repo, stated: str, source: str) -> tuple[str, str]:
    """(name, full ref) of the default branch: as the CI states it, else `origin/HEAD`, else the
    one of main and master that exists."""
    if stated:
        name = branch_name(stated, source)
        return name, _branch_tip(repo, name, source)
    pointed = repo.ref_name(_ORIGIN + "HEAD")
    if pointed and pointed.startswith(_ORIGIN) and pointed != _ORIGIN + "HEAD" and repo.ref_commit(pointed):
        return pointed.removeprefix(_ORIGIN), pointed
    for prefix in (_ORIGIN, "refs/heads/"):
        found = [name for name in ("main", "master") if repo.ref_commit(prefix + name) is not None]
        if len(found) == 1:
            return found[0], prefix + found[0]
        if found:
            raise GitError(
                f"--ci cannot tell the default branch ({source} is not set, refs/remotes/origin/HEAD "
                f"is not either, and both {prefix}main and {prefix}master exist)",
                f"record it: git remote set-head origin --auto; or {PASS_BASE}",
            )
    raise GitError(
        f"--ci cannot tell the default branch ({source} is not set, refs/remotes/origin/HEAD is not "
        "either, and there is no main or master)",
        f"fetch it: git fetch origin && git remote set-head origin --auto; or {PASS_BASE}",
    )


def _against(repo: Repo, label: str, base: str, described: str = "") -> CiRange:
    """merge-base(base, HEAD)..HEAD; an empty range (HEAD already on the base) is said as such."""
    head = repo.resolve("HEAD")
    merge_base = repo.merge_base(repo.resolve(base), head)
    is_commit = COMMIT_ID.fullmatch(base) is not None
    shown = f"{described} {base[:12]}" if is_commit else base
    why = f" ({described})" if described and not is_commit else ""
    if merge_base == head:
        return CiRange(
            base,
            f"--ci: {label}: whole-tree policy check of HEAD ({head[:12]}), no change to gate: "
            f"HEAD is already on {shown}{why}",
        )
    return CiRange(
        base, f"--ci: {label}: range merge-base({shown}, HEAD)..HEAD = {merge_base[:12]}..{head[:12]}{why}"
    )


def _whole_tree(repo: Repo, label: str, why: str) -> CiRange:
    head = repo.resolve("HEAD")
    return CiRange(
        head, f"--ci: {label}: whole-tree policy check of HEAD ({head[:12]}), no change to gate: {why}"
    )
