"""`status`: one line per agent: where it stands, who approved it, what is still unanswered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentpolicy.config import CONFIG_PATH, load_config
from agentpolicy.digest import agent_digest
from agentpolicy.model import ERROR
from agentpolicy.policy import check_loaded, load_agent

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


def run_status(start: str = ".", rev: str = "HEAD") -> list[AgentStatus]:
    from agentpolicy.gitrepo import Repo
    from agentpolicy.reviewset import ReviewSet
    from agentpolicy.signing import TrustRoot

    repo = Repo(start)
    if not repo.has_head and rev == "HEAD":
        return []
    snapshot = repo.revision_snapshot(repo.resolve(rev), rev)
    config = load_config(snapshot.read(CONFIG_PATH)).with_packs(snapshot)
    files = snapshot.files(config.agents)
    loaded = [
        load_agent(path, snapshot.read(path), is_link=entry.is_link) for path, entry in sorted(files.items())
    ]
    findings = check_loaded(loaded, config)
    revoked = snapshot.read(config.revoked_signers) if config.revoked_signers else None
    root = TrustRoot(config, snapshot.read(config.allowed_signers), revoked)
    reviews = ReviewSet(snapshot, snapshot, config)
    board = []
    for result in loaded:
        document = result.document
        if document is None or not isinstance(document.data, dict):
            continue
        data = document.data
        name = str(data.get("name", "?"))
        own = [f for f in findings if f.path == document.path]
        digest = agent_digest(data)
        approvers = sorted(
            {
                entry.reviewer
                for entry in reviews.for_agent(name)
                if entry.digest == digest
                and entry.decision in ("approve", "retire")
                and root.verdict(entry).ok
            }
        )
        owner = data.get("owner")
        board.append(
            AgentStatus(
                name=name,
                path=document.path,
                stage=str(data.get("stage", "?")),
                version=str(data.get("version", "?")),
                owner=str(owner.get("name", "?")) if isinstance(owner, dict) else "?",
                approved=bool(approvers),
                approvers=approvers,
                gaps=sorted({GAP_LABELS.get(f.rule, f.rule) for f in own}),
                errors=sum(1 for f in own if f.severity == ERROR),
            )
        )
    return sorted(board, key=lambda status: status.name)
