"""Each requested agent's boundary at a revision, with the judge's verdict on its current content.

`approved` is exactly what `agentpolicy status` says (the audit's verdict on
the change that produced the content, an approval that arrived later
included); this module asks, it never decides.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentpolicy.errors import AgentPolicyError, GitError
from agentpolicy.runtime.boundary import Approval, Boundary


def repo_boundaries(start: str, agents: Sequence[str], rev: str = "HEAD") -> list[Boundary]:
    """The boundaries of ``agents`` at ``rev`` (one walk of history for all of them)."""
    from agentpolicy.app.audit import AuditRequest, run_audit
    from agentpolicy.app.status import run_status
    from agentpolicy.git.repo import Repo
    from agentpolicy.rules.engine import load_agent

    if ".." in rev:
        raise AgentPolicyError(
            f"{rev!r} is a range; a boundary is read at one revision",
            "pass one revision, e.g. --rev main or --rev v1.4.0",
        )
    repo = Repo(start)
    if not repo.has_head and rev == "HEAD":
        raise GitError(
            "this repository has no commits yet: nothing has been approved", "commit the agents first"
        )
    commit = repo.resolve(rev)
    audit = run_audit(AuditRequest(rev=commit, start=start))
    if audit.history_cut:
        raise GitError(
            "this clone is shallow: the approval of the current content may lie in the history it lacks",
            "fetch the full history (git fetch --unshallow, or fetch-depth: 0 in CI)",
        )
    board = run_status(start, commit, audit=audit)
    snapshot = repo.revision_snapshot(commit, rev)
    latest = audit.latest or {}
    found = []
    for name in agents:
        rows = [row for row in board if row.name == name and row.path != row.name]
        if not rows:
            raise AgentPolicyError(
                f"no agent named {name!r} at {rev}",
                "check the name: `agentpolicy status` lists the agents",
            )
        if len(rows) > 1:
            raise AgentPolicyError(
                f"{name!r} is defined by {len(rows)} files ({', '.join(row.path for row in rows)}): "
                "tools that read them may take either",
                "keep one file per agent name (AP140)",
            )
        row = rows[0]
        loaded = load_agent(row.path, snapshot.read(row.path))
        if loaded.document is None or not isinstance(loaded.document.data, dict):
            raise AgentPolicyError(f"{row.path} cannot be read as an agent at {rev}", "fix the file first")
        event = latest.get(name)
        approvals = tuple(
            Approval(f"{record.name} <{record.email}>", record.decision, record.timestamp)
            for record in (event.reviewers if event is not None and row.approved else [])
        )
        found.append(
            Boundary.from_agent_data(
                loaded.document.data, commit=commit, approved=row.approved, approvals=approvals
            )
        )
    return found
