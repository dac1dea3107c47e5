"""The change gate of `check`: hand every governed change to the judge and collect its findings.

Everything here is judged against the *before* side's configuration and trust
root, so a change cannot relax the rules it is judged by. Whether a change is
approved is decided by ``judge`` alone (the audit and status ask it too).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from agentpolicy.model.changes import AgentChange
from agentpolicy.model.document import ERROR, WARNING, Finding
from agentpolicy.results.check import ChangeSummary
from agentpolicy.review.entry_set import ReviewSet
from agentpolicy.review.judge import (
    AuthorsOf,
    Subject,
    Verdict,
    Verifier,
    agent_subject,
    approval_floor,
    break_glass_allowed,
    judge,
    required_approvals,
)
from agentpolicy.rules.config import Config

RULE_UNKNOWN_AGENT = "AP207"

__all__ = ["AuthorsOf", "Gate", "Subject", "Verdict", "Verifier"]


@dataclass
class Gate:
    config: Config
    reviews: ReviewSet
    verify: Verifier
    authors_of: AuthorsOf
    findings: list[Finding] = field(default_factory=list)
    summaries: list[ChangeSummary] = field(default_factory=list)
    tip_config: Config | None = None  # the target branch's rules: they bind a range check too
    trust_root_approved: bool | None = None
    _judged: set[str] = field(default_factory=set)

    def run(
        self, changes: Iterable[AgentChange], known_agents: set[str], extra_subjects: Iterable[Subject] = ()
    ) -> None:
        self.reviews.scan_changes()
        for change in changes:
            target = change.after or change.before
            assert target is not None
            summary = ChangeSummary(
                agent=change.name,
                path=target.path,
                kinds=list(change.kinds),
                before_version=change.before.version if change.before else None,
                after_version=change.after.version if change.after else None,
                needs_review=change.governed,
            )
            self.summaries.append(summary)
            if change.governed:
                subject = agent_subject(change, self.config)
                if self.tip_config is not None:
                    subject.required = max(subject.required, required_approvals(change, self.tip_config))
                summary.digest, summary.approvals_required = subject.digest, subject.required
                approved, summary.approved_by = self.judge(subject)
                summary.approved = approved
        for subject in extra_subjects:
            self.trust_root_approved, _ = self.judge(subject)
        self._added_entries(known_agents)
        self.findings.extend(self.reviews.findings)

    def judge(self, subject: Subject) -> tuple[bool, list[str]]:
        """Ask the judge about one subject, with this check's evidence; keep its findings."""
        self._judged.add(subject.name)
        self_approval = self.config.allow_self_approval and (
            self.tip_config is None or self.tip_config.allow_self_approval
        )
        judgement = judge(
            subject,
            self.reviews.for_agent(subject.name),
            floor=approval_floor(self.reviews.before_entries(subject.name), verify=self.verify),
            verify=self.verify,
            authors=set() if self_approval else self.authors_of(subject.paths),  # asking git costs
            allow_self_approval=self_approval,
            added=self.reviews.added_paths,
            break_glass=break_glass_allowed(subject, self.config, self.tip_config),
        )
        self.findings.extend(judgement.findings)
        return judgement.approved, judgement.reviewers

    def _added_entries(self, known_agents: set[str]) -> None:
        """Every added entry is judged, even one no change needs: it becomes evidence."""
        for entry in self.reviews.added_entries():
            if entry.agent in self._judged:
                continue
            if entry.agent not in known_agents:
                self.findings.append(
                    Finding(
                        entry.path,
                        1,
                        1,
                        RULE_UNKNOWN_AGENT,
                        WARNING,
                        f"review entry names agent {entry.agent!r}, which is not defined on either side",
                        "check the agent name, or remove the entry before it is committed",
                    )
                )
            verdict = self.verify(entry)
            if verdict.message:
                severity = WARNING if verdict.ok else ERROR
                self.findings.append(
                    Finding(
                        entry.path,
                        1,
                        1,
                        verdict.rule,
                        severity,
                        verdict.message,
                        verdict.hint,
                        agent=entry.agent,
                    )
                )
