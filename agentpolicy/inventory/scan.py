"""Reading one repository, inside a worker process: its agents, their approval, its governed changes.

Nothing here decides an approval: the rows are the audit's replay (`run_audit`)
and the status board built on it (`run_status`), run against that repository
with its own configuration and trust root, exactly as `agentpolicy audit` and
`agentpolicy status` would run inside it.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import Any

from agentpolicy.inventory.records import (
    FAILED,
    READ,
    UNCHANGED,
    AgentRecord,
    ChangeRecord,
    RepositoryScan,
    storable,
)

# Bumped when what a scan stores changes, so that every repository is read again once.
SCAN_FORMAT = 1
_GIT_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR")
ORIGIN_HEAD = "refs/remotes/origin/HEAD"
_OBJECT_ID = re.compile("[0-9a-f]{40}|[0-9a-f]{64}")  # pygit2 raises KeyError(id) for a missing object


@dataclass(frozen=True)
class ScanJob:
    key: bytes  # the repository's real path
    rev: str | None  # None: its default branch
    previous: str | None  # the fingerprint of its last complete scan, if any


class RepositoryUnreadable(Exception):
    """This repository cannot be inventoried; the message says why (and how to fix it)."""


def worker_setup() -> None:
    """Each worker reads only the repository it is given: git's variables from a hook that
    launched the run (GIT_DIR and friends, which `Repo` honours) must not redirect it. The
    workers already use every core: none starts a YAML helper process of its own."""
    from agentpolicy.cache import parsed_ahead

    for name in _GIT_VARIABLES:
        os.environ.pop(name, None)
    parsed_ahead.HELPERS_ALLOWED = False


def scan_repository(job: ScanJob) -> RepositoryScan:
    """The scan of one repository; never raises: a failure is a FAILED scan with its reason."""
    path = os.fsdecode(job.key)
    shown = storable(path)
    try:
        return _scan(job, path, shown)
    except RepositoryUnreadable as exc:
        return RepositoryScan(job.key, shown, FAILED, rev=job.rev or "", error=storable(str(exc)))
    except Exception as exc:  # a damaged repository can raise anything from pygit2 or below
        from agentpolicy.errors import AgentPolicyError

        if isinstance(exc, AgentPolicyError):
            why = exc.message + (f" (fix: {exc.hint})" if exc.hint else "")
        elif type(exc).__module__.startswith(("pygit2", "_pygit2")) or isinstance(exc, OSError):
            why = f"cannot read the git repository: {exc} (fix: run `git fsck` in it)"
        elif isinstance(exc, KeyError) and _OBJECT_ID.fullmatch(str(exc.args[0]) if exc.args else ""):
            why = (
                f"the repository is damaged: object {exc.args[0]} is missing "
                "(fix: run `git fsck` in it and restore the missing objects)"
            )
        else:
            why = f"internal error while reading it: {type(exc).__name__}: {exc} (a bug: please report it)"
        return RepositoryScan(job.key, shown, FAILED, rev=job.rev or "", error=storable(why))


def _scan(job: ScanJob, path: str, shown: str) -> RepositoryScan:
    import pygit2

    from agentpolicy.app.audit import AuditRequest, run_audit
    from agentpolicy.app.status import run_status
    from agentpolicy.git.repo import FETCH_FULL_HISTORY, Repo

    repo = _open_exactly(pygit2, path)
    if repo.is_shallow:
        raise RepositoryUnreadable(
            f"this clone is shallow: its approvals cannot be vouched for (fix: {FETCH_FULL_HISTORY})"
        )
    rev = job.rev or _default_rev(repo)
    missing = _missing_commit(pygit2, repo, rev)
    if missing:
        raise RepositoryUnreadable(
            f"the repository is damaged: {rev} names commit {missing}, which is missing "
            "(fix: run `git fsck` in it and restore the missing objects)"
        )
    commit = None if rev == "HEAD" and repo.head_is_unborn else Repo(path).resolve(rev)
    fingerprint = _fingerprint(rev, commit)
    if job.previous == fingerprint:
        return RepositoryScan(
            job.key, shown, UNCHANGED, rev=storable(rev), head_commit=commit, fingerprint=fingerprint
        )
    if commit is None:
        return RepositoryScan(job.key, shown, READ, rev=storable(rev), fingerprint=fingerprint)
    audit = run_audit(AuditRequest(rev=commit, start=path))
    board = run_status(start=path, rev=commit, audit=audit)
    return RepositoryScan(
        job.key,
        shown,
        READ,
        rev=storable(rev),
        head_commit=commit,
        fingerprint=fingerprint,
        agents=[_agent(status) for status in board],
        changes=[_change(event) for event in audit.events],
    )


def _open_exactly(pygit2: Any, path: str) -> Any:
    """The repository at exactly ``path`` (its work tree or its git directory), never one above it:
    a folder inside a clone is not that clone."""
    if not os.path.isdir(path):
        raise RepositoryUnreadable("not a folder" if os.path.lexists(path) else "no such folder")
    try:
        found = pygit2.discover_repository(path)
        repo = pygit2.Repository(found) if found else None
    except pygit2.GitError as exc:
        raise RepositoryUnreadable(f"cannot open the git repository: {exc}") from exc
    if repo is None:
        raise RepositoryUnreadable("not a git repository (no .git here, and not a bare repository)")
    roots = {os.path.realpath(repo.path)} | ({os.path.realpath(repo.workdir)} if repo.workdir else set())
    if os.path.realpath(path) not in roots:
        inside = repo.workdir or repo.path
        raise RepositoryUnreadable(f"not a git repository itself: a folder inside {inside}")
    return repo


def _missing_commit(pygit2: Any, repo: Any, rev: str) -> str | None:
    """The commit a branch names when its object is gone (a damaged repository), else None."""
    try:
        reference = repo.references.get("HEAD" if rev == "HEAD" else rev)
        target = reference.resolve().target if reference is not None else None
    except (pygit2.GitError, KeyError, ValueError):
        return None
    return str(target) if target is not None and repo.get(target) is None else None


def _default_rev(repo: Any) -> str:
    """The branch origin's HEAD names in a clone (what the team ships); HEAD otherwise (a bare
    repository's default branch, or a clone without that remote name)."""
    reference = repo.references.get(ORIGIN_HEAD)
    if reference is not None and isinstance(reference.target, str) and reference.target in repo.references:
        return str(reference.target)
    return "HEAD"


def _fingerprint(rev: str, commit: str | None) -> str:
    """What a scan depends on: the commit read (its tree holds the configuration, the trust root,
    the agents and the reviews), the revision asked for, and the code that judges (any change
    to agentpolicy itself makes every repository be read again)."""
    from agentpolicy.cache.derived import code_digest

    text = f"{SCAN_FORMAT}\0{code_digest()}\0{rev}\0{commit or ''}"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _agent(status: Any) -> AgentRecord:
    due = getattr(status, "review_due", None)  # re-attestation (issue 17), when this build has it
    return AgentRecord(
        name=storable(status.name),
        path=storable(status.path),
        version=storable(status.version),
        stage=storable(status.stage),
        owner_name=storable(status.owner),
        owner_email=storable(getattr(status, "owner_email", "") or ""),
        approved=bool(status.approved),
        approvers=tuple(storable(who) for who in status.approvers),
        review_due=storable(str(due)) if due else None,
        open_gaps=tuple(storable(gap) for gap in status.gaps),
        errors=int(status.errors),
    )


def _change(event: Any) -> ChangeRecord:
    return ChangeRecord(
        agent=storable(event.agent),
        event=storable(event.event),
        version=storable(event.version) if event.version is not None else None,
        commit=event.commit,
        date=event.date,
        author=storable(event.author),
        approved=bool(event.approved),
        approved_later_in=event.approved_later_in,
        path=storable(event.path),
        side_branch=bool(event.side_branch),
    )
