"""The audit's events that wait on review entries: unapproved ones, and approved ones still standing.

An event stays open until the judge approves it with the before side it was made
with (configuration, trust root, review floor, authors), frozen at that commit;
entries that arrive later are judged for it then. Once approved, its content may
still get entries: a break-glass follow-up, or a re-approval that restarts the
re-attestation clock. Every verdict here is the one judge's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from agentpolicy.app.replay_entries import Held, ReviewLedger
from agentpolicy.app.replay_events import change_event, follow_up_due, mark_approved, newest, reviewer_records
from agentpolicy.app.replay_trust import ReplayTrust
from agentpolicy.git.history import CommitStep
from agentpolicy.model.changes import AgentChange
from agentpolicy.results.audit import AuditEvent
from agentpolicy.review.entries import ReviewEntry
from agentpolicy.review.judge import (
    BREAK_GLASS,
    Floor,
    Judgement,
    Subject,
    agent_subject,
    approval_floor,
    break_glass_allowed,
    judge,
)
from agentpolicy.review.trust import TipTrust, TrustRoot
from agentpolicy.rules.config import Config


@dataclass
class _Open:
    """An unapproved event and the before side it is judged against, frozen when it was made."""

    event: AuditEvent
    subject: Subject
    config: Config
    root: TrustRoot
    floor: Floor
    authors: set[str]
    confirmed: Floor | None = None  # once approved: the approvals so far (a re-approval must be newer)


class Approvals:
    """Open and approved events of the walk, each judged again when entries for it arrive."""

    def __init__(
        self, ledger: ReviewLedger, trust: ReplayTrust, final: Callable[[AuditEvent], None] = lambda _: None
    ) -> None:
        self.ledger = ledger
        self.final = final  # told of an event that can no longer change (its agent's next one came)
        self.trust = trust
        self.open: dict[str, _Open] = {}
        self.closed: dict[str, _Open] = {}  # approved events whose content still stands (re-approvals)
        self.latest: dict[str, AuditEvent] = {}  # the last event of each agent (status reads it)

    def start(
        self,
        step: CommitStep,
        event: AuditEvent,
        subject: Subject,
        config: Config,
        root: TrustRoot,
        floor: Floor,
        authors: set[str],
    ) -> None:
        """A new event for its agent (or the trust root): it replaces the last one, and is judged now."""
        superseded = self.latest.get(event.agent)
        self.latest[event.agent] = event
        self.closed.pop(event.agent, None)
        self.open[event.agent] = _Open(event, subject, config, root, floor, authors)
        if superseded is not None:
            self.final(superseded)
        self._rejudge(step, event.agent, root)

    def edited(self, names: Iterable[str], changed: set[str], people: Iterable[str]) -> None:
        """Later edits of an open event's files make their authors authors of the change too."""
        for name in names:
            pending = self.open.get(name)
            if pending is not None and pending.subject.paths & changed:
                pending.authors |= set(people)

    def arrived(self, step: CommitStep, tip: Callable[[], TrustRoot]) -> None:
        """Entries this commit added, judged for the events they may approve or confirm, with the
        signers in force where they arrive (``tip()``) as well as the event's own."""
        arrived = self.ledger.arrived
        for name in sorted(arrived & set(self.open)):
            base, where = self.open[name].root, tip()
            if where.allowed is None and self.trust.bootstrapped(base):
                self._rejudge(step, name, base)  # nobody has signers yet, on either side (as `check`)
            else:
                self._rejudge(step, name, self.trust.tip_trust(base, where))
        for name in sorted(arrived & set(self.closed)):
            self._confirm(step, name, self.trust.tip_trust(self.closed[name].root, tip()))

    def judge_side(
        self,
        step: CommitStep,
        changes: list[AgentChange],
        config: Config,
        parent_files: dict[str, str],
        files: dict[str, str],
    ) -> list[AuditEvent]:
        """A merged side branch's commit, judged once on its own tree (its parent's configuration,
        signers and entries; the entries of its tree), apart from the main line's open events."""
        entries = self.ledger.entries_in(files, config, step.id)
        held = self.ledger.entries_in(parent_files, config, "")
        root = self.trust.root_for(config, parent_files, files)
        events = []
        for change in changes:
            subject = agent_subject(change, config, locate=False)
            event = change_event(step, change, subject)
            event.side_branch = True
            events.append(event)
            judgement = judge(
                subject,
                self.ledger.for_agent(change.name, config, entries),
                floor=approval_floor(
                    self.ledger.for_agent(change.name, config, held),
                    step.committed,
                    self.trust.verifier(root, held),
                ),
                verify=self.trust.verifier(root, entries),
                authors=set(step.people),
                allow_self_approval=config.allow_self_approval,
                break_glass=break_glass_allowed(subject, config),
            )
            if judgement.approved:
                self.approve(step, event, judgement, root, entries)
        return events

    def _rejudge(self, step: CommitStep, name: str, root: TrustRoot | TipTrust) -> None:
        pending = self.open[name]
        judgement = judge(
            pending.subject,
            self.ledger.for_agent(name, pending.config),
            floor=pending.floor,
            verify=self.trust.verifier(root, self.ledger.entries),
            authors=pending.authors,
            allow_self_approval=pending.config.allow_self_approval,
            break_glass=break_glass_allowed(pending.subject, pending.config),
        )
        if judgement.approved:
            self.approve(step, pending.event, judgement, root, self.ledger.entries)
            if judgement.via == BREAK_GLASS:
                days = pending.config.break_glass_follow_up_days
                pending.event.follow_up_due = follow_up_due(self.trust.clock or step.date, days)
            pending.confirmed = approval_floor(judgement.counted)
            self.closed[name] = self.open.pop(name)

    def _confirm(self, step: CommitStep, name: str, root: TipTrust) -> None:
        """Entries for content that still stands and is approved: a break-glass follow-up, or a
        re-approval that restarts the re-attestation clock. The judge decides both, without
        break-glass, against the before side the event was judged with."""
        pending = self.closed[name]
        event = pending.event
        follow_up = event.approved_via == BREAK_GLASS and event.followed_up_in is None
        floor = pending.floor if follow_up else pending.confirmed or pending.floor
        judgement = judge(
            pending.subject,
            self.ledger.for_agent(name, pending.config),
            floor=floor,
            verify=self.trust.verifier(root, self.ledger.entries),
            authors=pending.authors,
            allow_self_approval=pending.config.allow_self_approval,
        )
        if not judgement.approved:
            return
        known = {reviewer.path for reviewer in event.reviewers}
        fresh = [entry for entry in judgement.counted if entry.path not in known]
        if not fresh:
            return
        self._record(event, fresh, root, self.ledger.entries)
        event.last_approved = newest(fresh, self.trust.clock, event.last_approved)
        if follow_up:
            event.followed_up_in = step.id
        else:
            event.reattested_in.append(step.id)
        pending.confirmed = approval_floor(judgement.counted)

    def approve(
        self,
        step: CommitStep,
        event: AuditEvent,
        judgement: Judgement,
        root: TrustRoot | TipTrust,
        entries: Held,
    ) -> None:
        """Record the judge's approval of ``event`` at ``step``, with its reviewers."""
        mark_approved(event, step.id, judgement)
        self._record(event, judgement.counted, root, entries)
        event.last_approved = newest(judgement.counted, self.trust.clock, None)

    def _record(
        self,
        event: AuditEvent,
        counted: list[ReviewEntry],
        root: TrustRoot | TipTrust,
        entries: Held,
    ) -> None:
        verify = self.trust.verifier(root, entries)
        event.reviewers += reviewer_records(counted, root, entries, verify, self.trust.judged_at)
