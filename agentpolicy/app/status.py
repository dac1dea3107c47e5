"""`status`: one line per agent: where it stands, who approved it, what is still unanswered."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from agentpolicy.app.reattest import review_every
from agentpolicy.cache.parsed_ahead import ParsedAhead
from agentpolicy.model.digest import agent_digest
from agentpolicy.model.document import ERROR, Finding, LoadResult
from agentpolicy.model.yamlload import NOT_PARSED
from agentpolicy.results.status import GAP_LABELS, AgentStatus
from agentpolicy.rules.config import CONFIG_PATH, load_config
from agentpolicy.rules.engine import check_loaded, load_agent

if TYPE_CHECKING:
    from agentpolicy.files.snapshot import FileEntry, Snapshot
    from agentpolicy.git.repo import Repo
    from agentpolicy.results.audit import AuditEvent, AuditResult


def run_status(
    start: str = ".", rev: str = "HEAD", audit: AuditResult | None = None, as_of: dt.datetime | None = None
) -> list[AgentStatus]:
    """Each agent at ``rev``, with the judge's verdict on the change that produced its content.

    The verdict is the audit's own (the replay of ``rev``'s first-parent history
    judges each change with that change's before side), so status can never call
    approved what the audit calls unapproved. Pass ``audit`` to reuse a walk of
    the same revision. ``as_of`` answers for that moment: the commit of ``rev`` that stood
    then, and review due dates counted to that day.
    """
    from agentpolicy.app.audit import AuditRequest, run_audit
    from agentpolicy.app.reattest import commit_at
    from agentpolicy.git.repo import Repo

    repo = Repo(start)
    if not repo.has_head and rev == "HEAD":
        return []
    commit = repo.resolve(rev)
    if as_of is not None:
        commit = rev = commit_at(repo, commit, as_of)
    today = (as_of or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).date()
    snapshot = repo.revision_snapshot(commit, rev)
    config = load_config(snapshot.read(CONFIG_PATH)).with_packs(snapshot)
    files = sorted(snapshot.files(config.agents).items())
    loaded = _load_agents(repo, snapshot, files)
    findings = check_loaded(loaded, config)
    digests: dict[str, str] = {}  # blob -> digest, as the audit worked them out for these files
    if audit is None:
        by_blob = {
            entry.key: result for (_, entry), result in zip(files, loaded, strict=True) if not entry.is_link
        }
        audit = run_audit(
            AuditRequest(rev=commit, start=start), events="latest", loaded=by_blob, digests=digests
        )
    verdicts = audit.latest or {}
    by_path: dict[str, list[Finding]] = {}
    for finding in findings:
        by_path.setdefault(finding.path, []).append(finding)
    board = []
    for (_, entry), result in zip(files, loaded, strict=True):
        document = result.document
        if document is None or not isinstance(document.data, dict) or not document.data.get("name"):
            board.append(_unreadable_row(result, by_path))
            continue
        data = document.data
        name = str(data.get("name", "?"))
        own = by_path.get(document.path, [])
        event = verdicts.get(name)
        approved = (
            event is not None
            and event.approved
            and event.digest == (digests.get(entry.key) or agent_digest(data))
        )
        owner = data.get("owner")
        status = AgentStatus(
            name=name,
            path=document.path,
            stage=str(data.get("stage", "?")),
            version=str(data.get("version", "?")),
            owner=str(owner.get("name", "?")) if isinstance(owner, dict) else "?",
            owner_email=str(owner.get("email") or "") if isinstance(owner, dict) else "",
            approved=approved,
            # one name per reviewer: re-attestations and repeat entries by the same person are not
            # more approvals (the judge counts distinct keys; this is who approved)
            approvers=_approvers(event) if approved and event else [],
            gaps=sorted({GAP_LABELS.get(f.rule, f.rule) for f in own}),
            errors=sum(1 for f in own if f.severity == ERROR),
        )
        if approved and event is not None:
            _review_fields(status, event, review_every(data, config), today)
        board.append(status)
    return sorted(board, key=lambda status: status.name)


def _load_agents(repo: Repo, snapshot: Snapshot, files: list[tuple[str, FileEntry]]) -> list[LoadResult]:
    """Every agent file of the snapshot, loaded; a big tree is parsed on both cores."""
    ahead = ParsedAhead(repo.repo.path)
    try:
        ahead.submit(entry.key for _, entry in files if not entry.is_link)
        loaded = []
        for path, entry in files:
            parsed = ahead.take(entry.key)
            raw = snapshot.read(path)
            loaded.append(
                load_agent(path, raw, is_link=entry.is_link, parsed=parsed.data if parsed else NOT_PARSED)
            )
        return loaded
    finally:
        ahead.close()


def _review_fields(status: AgentStatus, event: AuditEvent, every: int | None, today: dt.date) -> None:
    """When the approval, or its re-attestation, was last given and when the next one is due."""
    from agentpolicy.app.reattest import review_clock

    status.approved_via = event.approved_via
    status.last_approved = event.last_approved
    if every is None:
        return
    clock = review_clock(every, event.last_approved, today)
    status.review_every = f"{every}d"
    status.review_due, status.review_days_left, status.review_overdue = (
        clock.due,
        clock.days_left,
        clock.overdue,
    )


def _approvers(event: AuditEvent) -> list[str]:
    return sorted({f"{reviewer.name} <{reviewer.email}>" for reviewer in event.reviewers})


def _unreadable_row(result: LoadResult, by_path: dict[str, list[Finding]]) -> AgentStatus:
    """A selected file the strict loader refuses still gets a row: a lenient tool may deploy it."""
    path = result.document.path if result.document else result.findings[0].path if result.findings else "?"
    errors = [f for f in (*result.findings, *by_path.get(path, ())) if f.path == path and f.severity == ERROR]
    why = errors[0].message if errors else "it defines no agent name"
    return AgentStatus(
        name=path,
        path=path,
        stage="?",
        version="?",
        owner="?",
        approved=False,
        gaps=[f"unreadable: {why}"],
        errors=max(1, len(errors)),
    )
