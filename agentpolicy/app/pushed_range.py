"""The range pre-commit's pre-push stage hands over (`check --pushed`), judged against a trusted before side.

The pushed commits cannot vouch for themselves, so the base is the verified tip of the
remote-tracking ref being updated, else the remote's default branch; a push with no
known before side (an unnamed remote, an unfetched one, an orphan branch) stops with
the fix instead of being checked against nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentpolicy.errors import AgentPolicyError, GitError

if TYPE_CHECKING:
    from agentpolicy.git.repo import Repo


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
