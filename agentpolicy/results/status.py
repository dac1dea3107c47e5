"""What `status` reports: one row per agent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GAP_LABELS = {
    "AP110": "owner",
    "AP111": "autonomy boundary",
    "AP112": "monitoring",
    "AP113": "undo",
    "AP114": "change control",
    "AP120": "irreversible action without rollback",
}


@dataclass
class AgentStatus:
    name: str
    path: str
    stage: str
    version: str
    owner: str
    approved: bool
    approvers: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    errors: int = 0
    owner_email: str = ""
    approved_via: str | None = None  # "reviews" or "break-glass"
    review_every: str | None = None  # re-attestation (issue 17): "180d", from the agent or the config
    last_approved: str | None = None  # the newest approval of the current content
    review_due: str | None = None  # YYYY-MM-DD
    review_days_left: int | None = None  # negative when overdue
    review_overdue: bool = False

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))

    def row(self) -> list[str]:
        approval = ("yes: " + ", ".join(self.approvers)) if self.approved else "NO"
        if self.approved_via == "break-glass":
            approval += " (BREAK-GLASS)"
        if self.review_days_left is not None:
            left = self.review_days_left
            approval += f" (review OVERDUE by {-left} d)" if left < 0 else f" (review in {left} d)"
        return [self.name, self.stage, self.version, self.owner, approval, ", ".join(self.gaps) or "-"]


STATUS_HEADERS = ["agent", "stage", "version", "owner", "approved", "open gaps"]
