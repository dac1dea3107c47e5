"""What one `check` run found, as data for the reporters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentpolicy.model.document import ERROR, WARNING, Finding


@dataclass
class ChangeSummary:
    """One agent's governed change and where its approval stands (for reports)."""

    agent: str
    path: str
    kinds: list[str]
    before_version: str | None
    after_version: str | None
    needs_review: bool
    approvals_required: int = 0
    approved_by: list[str] = field(default_factory=list)
    digest: str = ""
    approved: bool | None = None  # the judge's verdict; None for a change that needs no review

    def to_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "file": self.path,
            "kinds": self.kinds,
            "before_version": self.before_version,
            "after_version": self.after_version,
            "needs_review": self.needs_review,
            "approvals_required": self.approvals_required,
            "approved_by": self.approved_by,
            "digest": self.digest or None,
            "approved": self.approved,
        }


@dataclass
class CheckResult:
    mode: str
    findings: list[Finding]
    files_checked: int
    changes: list[ChangeSummary] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    agents: dict[str, str] = field(default_factory=dict)  # every agent checked: name -> file
    pack_rules: tuple[Any, ...] = ()  # RuleInfo of the rules from `policy:` packs
    trust_root_approved: bool | None = None  # None: the trust root did not change (or is bootstrapping)

    def rules(self) -> list[Any]:
        """Every rule this run could report, for reporters that list them (SARIF, JUnit)."""
        from agentpolicy.rules import all_rules

        return sorted([*all_rules(), *self.pack_rules], key=lambda rule: rule.id)

    @property
    def errors(self) -> int:
        return sum(1 for finding in self.findings if finding.severity == ERROR and not finding.waived)

    @property
    def warnings(self) -> int:
        return sum(1 for finding in self.findings if finding.severity == WARNING and not finding.waived)

    @property
    def waived(self) -> int:
        return sum(1 for finding in self.findings if finding.waived)

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0
