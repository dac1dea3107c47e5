"""Re-attestation: when is an agent's approval due for a fresh look, and what was the state on a day.

The newest approval of an agent's current content comes from the audit's replay
(``AuditEvent.last_approved``: the judge's verdict, restarted by a re-approval of
unchanged content); this module only does the calendar arithmetic and finds the
commit that stood on a given day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from agentpolicy.errors import AgentPolicyError
from agentpolicy.rules.config import Config


@dataclass(frozen=True)
class ReviewClock:
    every_days: int
    last_approved: str | None  # YYYY-MM-DDTHH:MM:SSZ, None: never approved
    due: str | None  # YYYY-MM-DD
    days_left: int | None  # negative: overdue by that many days

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0


def review_every(data: dict[str, Any], config: Config) -> int | None:
    """Days between re-attestations: the agent's `change_control.review_every`, else the config's."""
    control = data.get("change_control")
    own = control.get("review_every") if isinstance(control, dict) else None
    if isinstance(own, str) and own.endswith("d") and own[:-1].isdigit():
        return int(own[:-1])
    return config.review_every


def review_clock(every: int, last_approved: str | None, today: dt.date) -> ReviewClock:
    if not last_approved:
        return ReviewClock(every, None, None, None)
    approved = dt.date.fromisoformat(last_approved[:10])
    due = approved + dt.timedelta(days=every)
    return ReviewClock(every, last_approved, due.isoformat(), (due - today).days)


def end_of(value: dt.datetime, text: str | None = None) -> dt.datetime:
    """`--as-of 2026-05-01` means that whole day: its last second (a time given stays as given)."""
    if text is not None and len(text.strip()) == 10:
        return value + dt.timedelta(days=1, seconds=-1)
    return value


def commit_at(repo: Any, head: str, as_of: dt.datetime) -> str:
    """The first-parent commit of ``head`` that stood at ``as_of``: the newest committed by then."""
    import pygit2

    limit = as_of.timestamp()
    walker = repo.repo.walk(head, pygit2.enums.SortMode.TOPOLOGICAL)
    walker.simplify_first_parent()
    for commit in walker:
        if commit.commit_time <= limit:
            return str(commit.id)
    raise AgentPolicyError(
        f"no commit of {head[:12]} was made on or before {as_of:%Y-%m-%dT%H:%M:%SZ}",
        "pick a later --as-of date (git log --reverse shows the first commit's date)",
    )


RULE_REVIEW_DUE = "AP212"


def review_due_findings(repo: Any, rev: str, config: Config, changing: set[str], start: str) -> list[Any]:
    """`check`'s warnings for agents whose re-attestation is overdue at ``rev`` (never errors).

    Only where someone opted in (`review_every` in the configuration or in an agent file),
    since the answer needs the audit's replay; agents this check changes are left out, as
    their change brings a new approval anyway.
    """
    if not repo.has_head or not _opted_in(repo, rev, config):
        return []  # the hook's usual case: nothing of status (or its audit) is imported
    from agentpolicy.app.status import run_status
    from agentpolicy.model.document import WARNING, Finding

    found = []
    for status in run_status(start, rev):
        if not status.review_overdue or status.name in changing:
            continue
        found.append(
            Finding(
                status.path,
                1,
                1,
                RULE_REVIEW_DUE,
                WARNING,
                f"{status.name} {status.version}: re-attestation overdue by "
                f"{-(status.review_days_left or 0)} day(s): last approved {status.last_approved}, "
                f"review_every {status.review_every}",
                f"re-approve the unchanged content: agentpolicy approve {status.name} (commit the entry)",
                agent=status.name,
            )
        )
    return found


def _opted_in(repo: Any, rev: str, config: Config) -> bool:
    if config.review_every is not None:
        return True
    from agentpolicy.app.file_verdicts import may_opt_in
    from agentpolicy.app.tree_verdicts import opted_in

    snapshot = repo.revision_snapshot(repo.resolve(rev), rev)
    # The check just stored this tree's result, which says per file whether it mentions
    # `review_every`; only without one is every agent blob read.
    stored = opted_in(snapshot, config, repo.repo.path)
    if stored is not None:
        return stored
    return any(may_opt_in(snapshot.read(path)) for path in snapshot.files(config.agents))
