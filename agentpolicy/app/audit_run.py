"""`agentpolicy audit` as one call: the history replay, and what its report needs around it.

``run_audit`` (app/audit.py) walks the history; the command also needs the status board
for an HTML report (from the same walk where it can, so the two never disagree) and, for
``--strict``, a refusal when the clone is shallow (a nightly job must not pass on the
history it does not have). Kept here so the command only parses, calls, renders, exits.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentpolicy.app.audit import AuditRequest, run_audit
from agentpolicy.app.status import run_status
from agentpolicy.errors import GitError
from agentpolicy.git.repo import FETCH_FULL_HISTORY
from agentpolicy.results.audit import AuditResult
from agentpolicy.results.status import AgentStatus


@dataclass(frozen=True)
class AuditReport:
    result: AuditResult
    board: list[AgentStatus] | None  # the status board, for an HTML report only

    def close(self) -> None:
        """Let go of the events' spool, if the audit streamed them to one."""
        close = getattr(self.result.events, "close", None)
        if close is not None:
            close()

    def exit_code(self, strict: bool) -> int:
        return 1 if strict and (self.result.count_unapproved() or self.result.any_overdue()) else 0


def audit_report(request: AuditRequest, *, strict: bool = False, with_board: bool = False) -> AuditReport:
    """The audit of ``request``; with ``with_board``, the status board of the audited tip too.
    Without a board (an HTML report holds what it renders) the events are spooled: memory
    stays flat in the length of the history."""
    result = run_audit(request, events="all" if with_board else "spool")
    board = None
    if with_board:
        rev = request.rev
        board = (
            run_status(request.start, rev.partition("..")[2] or "HEAD", as_of=result.as_of)
            if ".." in rev
            else run_status(request.start, rev, audit=result, as_of=result.as_of)  # the same walk
        )
    if strict and result.history_cut:  # before any output: exit 2 prints only the error
        AuditReport(result, None).close()
        raise GitError(
            "this clone is shallow: --strict cannot vouch for the history it does not have",
            FETCH_FULL_HISTORY,
        )
    return AuditReport(result, board)
