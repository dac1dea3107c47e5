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

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))

    def row(self) -> list[str]:
        return [
            self.name,
            self.stage,
            self.version,
            self.owner,
            ("yes: " + ", ".join(self.approvers)) if self.approved else "NO",
            ", ".join(self.gaps) or "-",
        ]


STATUS_HEADERS = ["agent", "stage", "version", "owner", "approved", "open gaps"]
