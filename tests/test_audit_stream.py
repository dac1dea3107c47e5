"""The audit's spooled events (issue 20): the command writes each event once it is final, and
its reports are the same, byte for byte, as those of every event held until the walk ends."""

from __future__ import annotations

import pytest

from agentpolicy.app.audit import AuditRequest, run_audit
from agentpolicy.report.audit_report import render_audit
from tests.helpers import BILLING, EXPANDED_BILLING, GitRepo, Key, agent_yaml, approve, guarded_repo


@pytest.fixture
def mixed(repo: GitRepo, keys: dict[str, Key]) -> GitRepo:
    """An event approved later, one superseded while open, one open at the end, a second agent
    approved at once and never changed again (its event stays open for re-approvals)."""
    guarded_repo(repo, keys)
    repo.write("agents/pdf.yaml", agent_yaml())
    assert approve(repo, keys["rev"], "pdf-extraction").code == 0
    repo.commit("pdf agent")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.commit("expand autonomy", author="Eve Sneaky <eve@example.com>")
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("late approval")
    repo.write("agents/billing-cycle.yaml", BILLING.replace("1.4.0", "1.6.0"))
    repo.commit("narrow again")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING.replace("1.5.0", "1.7.0"))
    repo.commit("expand again")
    return repo


@pytest.mark.parametrize("fmt", ["json", "csv", "table", "markdown"])
@pytest.mark.parametrize("flags", [(), ("--unapproved-only",), ("billing-cycle",)])
def test_the_spooled_report_is_the_report_of_every_event_held(
    mixed: GitRepo, fmt: str, flags: tuple[str, ...]
) -> None:
    done = mixed.ap("audit", "--format", fmt, *flags)
    assert done.code == 0, done.text
    agents = tuple(flag for flag in flags if not flag.startswith("--"))
    request = AuditRequest(agents=agents, unapproved_only="--unapproved-only" in flags, start=str(mixed.path))
    held = run_audit(request)
    assert isinstance(held.events, list)
    assert len(held.events) >= (1 if flags else 5)
    assert done.out == render_audit(held, fmt)


def test_strict_counts_what_the_spool_wrote(mixed: GitRepo) -> None:
    assert mixed.ap("audit", "--strict", "--format", "json").code == 1
    assert mixed.ap("audit", "--strict", "--format", "csv", "pdf-extraction").code == 0
