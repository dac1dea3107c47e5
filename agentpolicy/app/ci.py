"""Finding the range to check from the environment: the CI's (`check --ci`) and pre-commit's (`--pushed`).

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

import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from agentpolicy.errors import AgentPolicyError, GitError
from agentpolicy.git.repo import FETCH_FULL_HISTORY
from agentpolicy.report.safe import visible

if TYPE_CHECKING:
    from agentpolicy.git.repo import Repo

_ZERO = re.compile(r"0{40}|0{64}")
_COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_ORIGIN = "refs/remotes/origin/"
_PASS_BASE = "pass the base yourself: agentpolicy check --base refs/remotes/origin/main"


@dataclass(frozen=True)
class CiRun:
    """Which CI this is and what it wants from the report; `choose_range` reads the rest of env."""

    provider: str
    env: Mapping[str, str]
    summary_path: str | None = None
    default_format: str | None = None


@dataclass(frozen=True)
class CiRange:
    base: str  # what `check --base` is given: a full ref name or a commit id
    note: str  # one line: the event, the range, and why


def detect(env: Mapping[str, str] = os.environ) -> CiRun:
    if env.get("GITHUB_ACTIONS") == "true":
        return CiRun("GitHub", env, env.get("GITHUB_STEP_SUMMARY") or None, "github")
    if env.get("GITLAB_CI") == "true":
        return CiRun("GitLab", env)
    raise AgentPolicyError(
        "--ci found no CI environment (GITHUB_ACTIONS or GITLAB_CI is not set)",
        "outside CI, name the base: agentpolicy check --base refs/remotes/origin/main",
    )


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
    payload = _Payload.read(env)
    base_ref = env.get("GITHUB_BASE_REF", "")
    if base_ref:  # pull_request, pull_request_target: the target branch
        target = _branch_name(base_ref, "GITHUB_BASE_REF")
        return _against(repo, f"{label} into {target}", _branch_tip(repo, target, "GITHUB_BASE_REF"))
    pr_base = payload.text("pull_request", "base", "ref")
    if pr_base:  # pull_request_review and the like, where GitHub leaves GITHUB_BASE_REF empty
        source = payload.name("pull_request", "base", "ref")
        target = _branch_name(pr_base, source)
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
            f"run it in a workflow step, where GitHub sets GITHUB_REF, or {_PASS_BASE}",
        )
    if pushed != f"refs/heads/{default}":  # another branch or a tag: judged by the default branch
        return _against(repo, f"{label} to {visible(pushed)}", default_ref, f"the default branch {default}")
    label = f"{label} to {default} (the default branch)"
    before = payload.text("before")
    source = payload.name("before")
    if _ZERO.fullmatch(before):
        if payload.value("created") is False:
            _bad(source, before, "is all zeros, but the push did not create the branch (`created` is false)")
        return _whole_tree(
            repo,
            label,
            "the event's `before` is all zeros: this push created the default branch (a first push), "
            "so no commit before it can judge it; `agentpolicy audit` replays its history",
        )
    return _against(repo, label, _commit(repo, before, source), "the event's `before`")


def _merge_group(repo: Repo, label: str, payload: _Payload) -> CiRange:
    """A merge queue's group: judged by the branch it merges into, its own head and base checked."""
    base_ref = payload.text("merge_group", "base_ref")
    ref_source = payload.name("merge_group", "base_ref")
    if not base_ref.startswith("refs/heads/"):
        _bad(ref_source, base_ref, "is not a branch (refs/heads/...)")
    target = _branch_name(base_ref.removeprefix("refs/heads/"), ref_source)
    head = repo.resolve("HEAD")
    head_sha = payload.text("merge_group", "head_sha")
    if head_sha and _commit(repo, head_sha, payload.name("merge_group", "head_sha")) != head:
        _bad(
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
            _bad(source, base_sha, f"is not an ancestor of HEAD ({head[:12]})")
        extra = f", merge_group.base_sha {found[:12]}"
    return _against(repo, f"{label} into {target}{extra}", _branch_tip(repo, target, ref_source))


class _Payload:
    """The event payload (GITHUB_EVENT_PATH): a JSON object, or a stop naming the file."""

    def __init__(self, data: Mapping[str, object], path: str) -> None:
        self.data = data
        self.path = path

    @classmethod
    def read(cls, env: Mapping[str, str]) -> _Payload:
        path = env.get("GITHUB_EVENT_PATH", "")
        if not path:
            return cls({}, "")
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or device would be waited on forever
                raise ValueError("not a regular file")
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError, RecursionError) as exc:
            raise AgentPolicyError(
                f"--ci cannot read the event payload GITHUB_EVENT_PATH={path!r}: {exc}",
                f"run it in a workflow step, where GitHub writes that file, or {_PASS_BASE}",
            ) from None
        if not isinstance(data, dict):
            raise AgentPolicyError(
                f"the event payload GITHUB_EVENT_PATH={path!r} is not a JSON object",
                f"run it in a workflow step, where GitHub writes that file, or {_PASS_BASE}",
            )
        return cls(data, path)

    def name(self, *keys: str) -> str:
        """How a message names a field: `before` of the event payload (GITHUB_EVENT_PATH=...)."""
        where = f"GITHUB_EVENT_PATH={self.path!r}" if self.path else "GITHUB_EVENT_PATH is not set"
        return f"`{'.'.join(keys)}` of the event payload ({where})"

    def value(self, *keys: str) -> object:
        found: object = self.data
        for key in keys:
            found = found.get(key) if isinstance(found, dict) else None
        return found

    def text(self, *keys: str) -> str:
        """A string field, "" when absent; any other JSON type stops the check."""
        found = self.value(*keys)
        if found is None:
            return ""
        if not isinstance(found, str):
            _bad(self.name(*keys), found, "is not a string")
        return found


# -- GitLab CI -----------------------------------------------------------------------


def _gitlab(repo: Repo, env: Mapping[str, str]) -> CiRange:
    source = env.get("CI_PIPELINE_SOURCE", "")
    label = f"GitLab {visible(source) or 'pipeline'}"
    diff_base = env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA", "")
    if diff_base and not _ZERO.fullmatch(diff_base) and not _COMMIT_ID.fullmatch(diff_base):
        _bad("CI_MERGE_REQUEST_DIFF_BASE_SHA", diff_base, "is not a full commit id")
    target = env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "")
    if target:  # a merge request: the target branch's tip, not the diff base
        name = _branch_name(target, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
        tip = _branch_tip(repo, name, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
        return _against(repo, f"{label} into {name}", tip)
    if diff_base and not _ZERO.fullmatch(diff_base):  # older GitLab without the target branch name
        found = _commit(repo, diff_base, "CI_MERGE_REQUEST_DIFF_BASE_SHA")
        return _against(repo, label, found, "CI_MERGE_REQUEST_DIFF_BASE_SHA")
    default, default_ref = _default_branch(repo, env.get("CI_DEFAULT_BRANCH", ""), "CI_DEFAULT_BRANCH")
    branch = env.get("CI_COMMIT_BRANCH", "")
    if branch:
        _branch_name(branch, "CI_COMMIT_BRANCH")
    if branch != default or source not in ("push", ""):  # other branches, tags, schedules, web, api...
        return _against(repo, label, default_ref, f"the default branch {default}")
    label = f"{label} to {default} (the default branch)"
    before = env.get("CI_COMMIT_BEFORE_SHA", "")
    if not before:
        raise AgentPolicyError(
            f"--ci cannot tell which range this push to the default branch {default} brought: "
            "CI_COMMIT_BEFORE_SHA is not set",
            f"run it in a push pipeline, where GitLab sets it, or {_PASS_BASE}",
        )
    if _ZERO.fullmatch(before):
        return _whole_tree(
            repo,
            label,
            "CI_COMMIT_BEFORE_SHA is all zeros: this push created the default branch (a new branch), "
            "so no commit before it can judge it; `agentpolicy audit` replays its history",
        )
    return _against(repo, label, _commit(repo, before, "CI_COMMIT_BEFORE_SHA"), "CI_COMMIT_BEFORE_SHA")


# -- shared: names, commits, the default branch, the note ------------------------------


def _bad(source: str, value: object, problem: str, fix: str = "") -> NoReturn:
    raise AgentPolicyError(
        f"--ci cannot use {source}: {value!r} {problem}",
        fix or f"this is not what the CI sends: check the workflow, or {_PASS_BASE}",
    )


def _branch_name(value: str, source: str) -> str:
    """A branch name git itself would accept (no `-x`, `main~1`, `a..b`, newlines, `HEAD`)."""
    import pygit2

    try:
        valid = pygit2.reference_is_valid_name(f"refs/heads/{value}")
    except (UnicodeError, ValueError, TypeError):
        valid = False
    if not valid or value.startswith("-") or value == "HEAD":
        _bad(source, value, "is not a branch name git accepts")
    return value


def _branch_tip(repo: Repo, branch: str, source: str) -> str:
    """The full name of the branch's remote-tracking ref, else of the local branch; never a tag."""
    for candidate in branch_candidates(branch):
        if repo.ref_commit(candidate) is not None:
            return candidate
    hint = f"fetch it: git fetch origin {branch} (GitHub Actions: actions/checkout with fetch-depth: 0)"
    if repo.repo.is_shallow:
        hint = f"this clone is shallow: {FETCH_FULL_HISTORY}"
    raise GitError(
        f"--ci judges this run against the branch {branch} ({source}), which is not in this clone "
        f"(neither {' nor '.join(branch_candidates(branch))})",
        hint,
    )


def _commit(repo: Repo, value: str, source: str) -> str:
    """A full commit id that this clone has; anything else (a name, `HEAD`, an option) stops."""
    if not _COMMIT_ID.fullmatch(value):
        _bad(source, value, "is not a full commit id")
    try:
        return repo.resolve(value)
    except GitError as exc:
        raise GitError(
            f"--ci cannot use {source}: commit {value} is not in this clone",
            exc.hint + "; if the branch was force-pushed, the commit is gone: " + _PASS_BASE,
        ) from None


def _default_branch(repo: Repo, stated: str, source: str) -> tuple[str, str]:
    """(name, full ref) of the default branch: as the CI states it, else `origin/HEAD`, else the
    one of main and master that exists."""
    if stated:
        name = _branch_name(stated, source)
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
                f"record it: git remote set-head origin --auto; or {_PASS_BASE}",
            )
    raise GitError(
        f"--ci cannot tell the default branch ({source} is not set, refs/remotes/origin/HEAD is not "
        "either, and there is no main or master)",
        f"fetch it: git fetch origin && git remote set-head origin --auto; or {_PASS_BASE}",
    )


def _against(repo: Repo, label: str, base: str, described: str = "") -> CiRange:
    """merge-base(base, HEAD)..HEAD; an empty range (HEAD already on the base) is said as such."""
    head = repo.resolve("HEAD")
    merge_base = repo.merge_base(repo.resolve(base), head)
    is_commit = _COMMIT_ID.fullmatch(base) is not None
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
