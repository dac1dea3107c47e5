"""Every built-in rule has a passing and a failing case, checked through `agentpolicy check PATH`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import AGENTPOLICY, BILLING, clean_env, run


def check(tmp_path: Path, text: str, *extra: str, config: str | None = None) -> tuple[int, dict]:
    agent = tmp_path / "agents" / "agent.yaml"
    agent.parent.mkdir(parents=True, exist_ok=True)
    agent.write_text(text, encoding="utf-8")
    if config is not None:
        (tmp_path / ".agentpolicy.yaml").write_text(config, encoding="utf-8")
    done = run(
        [AGENTPOLICY, "check", "--format", "json", *extra, "agents/agent.yaml"],
        tmp_path,
        clean_env(tmp_path),
    )
    assert "Traceback" not in done.err
    return done.code, json.loads(done.out)


def rules_of(report: dict, severity: str | None = None) -> set[str]:
    return {f["rule"] for f in report["findings"] if severity is None or f["severity"] == severity}


def test_the_contract_example_passes_with_no_finding(tmp_path: Path) -> None:
    code, report = check(tmp_path, BILLING)
    assert code == 0
    assert report["findings"] == []
    assert report["summary"] == {"errors": 0, "warnings": 0, "waived": 0, "files_checked": 1, "exit_code": 0}


def without(text: str, block_start: str) -> str:
    """Remove a top-level block (its line and the indented lines under it)."""
    lines, out, skipping = text.splitlines(keepends=True), [], False
    for line in lines:
        if line.startswith(block_start):
            skipping = True
            continue
        if skipping and line.startswith(" "):
            continue
        skipping = False
        out.append(line)
    return "".join(out)


GAPS = [
    ("AP110", without(BILLING, "owner:")),
    (
        "AP111",
        BILLING.replace(
            "  requires_confirmation:\n    - action: submit-to-client-portal\n"
            "      description: Upload the invoice totals to the client portal.\n      irreversible: true\n",
            "",
        ),
    ),
    ("AP112", BILLING.replace("      alert: pagerduty:billing-oncall\n", "")),
    ("AP113", without(BILLING, "undo:")),
    ("AP114", BILLING.replace("approvals_required: 1", "approvals_required: 0")),
]


@pytest.mark.parametrize(("rule", "text"), GAPS, ids=[rule for rule, _ in GAPS])
def test_a_production_agent_with_an_unanswered_question_fails(tmp_path: Path, rule: str, text: str) -> None:
    code, report = check(tmp_path, text)
    assert code == 1
    assert rule in rules_of(report, "error")


@pytest.mark.parametrize(("rule", "text"), GAPS, ids=[rule for rule, _ in GAPS])
@pytest.mark.parametrize("stage", ["pilot", "staging"])
def test_a_pilot_or_staging_agent_with_the_same_gap_only_warns(
    tmp_path: Path, rule: str, text: str, stage: str
) -> None:
    code, report = check(tmp_path, text.replace("stage: production", f"stage: {stage}"))
    assert code == 0
    assert rule in rules_of(report, "warning")
    assert rules_of(report, "error") == set()


IRREVERSIBLE_AUTONOMOUS = BILLING.replace(
    "    - action: send-notifications\n",
    "    - action: send-notifications\n      irreversible: true\n",
)


def test_an_irreversible_autonomous_action_without_rollback_fails_in_production(
    tmp_path: Path,
) -> None:
    text = IRREVERSIBLE_AUTONOMOUS.replace(
        "  rollback: Redeploy the previous release tag; generated documents are regenerated.\n", ""
    )
    code, report = check(tmp_path, text)
    assert code == 1
    finding = next(f for f in report["findings"] if f["rule"] == "AP120")
    assert finding["line"] == 14  # points at the irreversible autonomous action itself, not line 1
    assert "send-notifications" in finding["message"]


def test_an_irreversible_autonomous_action_with_a_rollback_passes(tmp_path: Path) -> None:
    code, report = check(tmp_path, IRREVERSIBLE_AUTONOMOUS)
    assert code == 0, report


def test_a_retired_agent_with_autonomous_actions_fails(tmp_path: Path) -> None:
    code, report = check(tmp_path, BILLING.replace("stage: production", "stage: retired"))
    assert code == 1
    assert "AP130" in rules_of(report, "error")


def test_a_retired_agent_without_autonomous_actions_passes(tmp_path: Path) -> None:
    text = BILLING.replace("stage: production", "stage: retired").replace(
        "  autonomous:\n    - action: generate-billing-documents\n      description: Render the monthly invoices as PDF.\n    - action: send-notifications\n",
        "  autonomous: []\n",
    )
    code, report = check(tmp_path, text)
    assert code == 0, report


@pytest.mark.parametrize(
    ("owner", "message", "line"),
    [
        ('owner: "@acme/billing"', "owner is a team (@acme/billing)", 7),
        (
            "owner:\n  - name: A\n    email: a@example.com\n  - name: B\n    email: b@example.com",
            "owner is a list",
            7,
        ),
        ("owner:\n  name: '@acme/billing'\n  email: billing@example.com", "owner is a team", 8),
        ("owner:\n  name: Anna Nowak", "missing required field `owner.email`", 7),
    ],
)
def test_an_owner_that_is_not_one_person_fails(tmp_path: Path, owner: str, message: str, line: int) -> None:
    text = BILLING.replace(
        "owner:                           # 1. one accountable person, not a team\n"
        "  name: Anna Nowak\n  email: anna.nowak@example.com",
        owner,
    )
    code, report = check(tmp_path, text)
    assert code == 1
    ap101 = [f for f in report["findings"] if f["rule"] == "AP101"]
    assert any(message in f["message"] for f in ap101), report["findings"]
    assert ap101[0]["line"] == line


def test_an_owner_address_listed_as_a_team_in_config_fails(tmp_path: Path) -> None:
    code, report = check(tmp_path, BILLING, config="teams: [anna.nowak@example.com]\n")
    assert code == 1
    assert "listed as a team" in report["findings"][0]["message"]


def test_an_action_listed_twice_fails(tmp_path: Path) -> None:
    text = BILLING.replace(
        "    - action: send-notifications\n",
        "    - action: send-notifications\n    - action: send-notifications\n",
    )
    code, report = check(tmp_path, text)
    assert code == 1
    assert "AP102" in rules_of(report)


def test_an_action_both_autonomous_and_confirmed_fails(tmp_path: Path) -> None:
    text = BILLING.replace(
        "    - action: send-notifications\n",
        "    - action: send-notifications\n    - action: submit-to-client-portal\n",
    )
    code, report = check(tmp_path, text)
    assert code == 1
    finding = next(f for f in report["findings"] if f["rule"] == "AP103")
    assert "submit-to-client-portal" in finding["message"]


def test_two_files_with_the_same_agent_name_fail(tmp_path: Path) -> None:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "a.yaml").write_text(BILLING)
    (tmp_path / "agents" / "b.yaml").write_text(BILLING)
    done = run([AGENTPOLICY, "check", "agents"], tmp_path, clean_env(tmp_path))
    assert done.code == 1
    assert (
        "agents/b.yaml:3:1: error AP140 agent name 'billing-cycle' is already used by agents/a.yaml"
        in done.out
    )


def test_two_files_with_different_names_pass(tmp_path: Path) -> None:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "a.yaml").write_text(BILLING)
    (tmp_path / "agents" / "b.yaml").write_text(BILLING.replace("name: billing-cycle", "name: billing-two"))
    done = run([AGENTPOLICY, "check", "agents"], tmp_path, clean_env(tmp_path))
    assert done.code == 0, done.text
    assert "All checks passed (2 agent files checked)." in done.out


def test_an_unknown_field_is_named_with_its_line(tmp_path: Path) -> None:
    code, report = check(tmp_path, BILLING + "ownr: somebody\n")
    assert code == 1
    finding = report["findings"][0]
    assert (finding["rule"], finding["line"]) == ("AP100", 30)
    assert "unknown field `ownr`" in finding["message"]


def test_extension_fields_prefixed_x_are_accepted(tmp_path: Path) -> None:
    code, _ = check(tmp_path, BILLING + "x-team-slack: '#billing'\n")
    assert code == 0


def test_config_can_switch_a_rule_off_or_make_it_a_warning(tmp_path: Path) -> None:
    text = BILLING.replace("      alert: pagerduty:billing-oncall\n", "")
    code, report = check(tmp_path, text, config="rules: {AP112: warning}\n")
    assert (code, rules_of(report, "warning")) == (0, {"AP112"})
    code, report = check(tmp_path, text, config="rules: {AP112: 'off'}\n")
    assert (code, report["findings"]) == (0, [])


def test_text_output_is_path_line_column_severity_rule_message(tmp_path: Path) -> None:
    agent = tmp_path / "agents" / "billing.yaml"
    agent.parent.mkdir()
    agent.write_text(
        BILLING.replace(
            "owner:                           # 1. one accountable person, not a team\n"
            "  name: Anna Nowak\n  email: anna.nowak@example.com",
            'owner: "@acme/billing"',
        )
    )
    done = run([AGENTPOLICY, "check", "agents/billing.yaml"], tmp_path, clean_env(tmp_path))
    assert done.code == 1
    assert done.out.splitlines()[0] == (
        "agents/billing.yaml:7:1: error AP101 owner is a team (@acme/billing): name one accountable person"
    )
    assert done.out.splitlines()[1].strip().startswith("fix: ")
    assert done.out.rstrip().endswith("Failed: 1 error, 0 warnings (1 agent file checked).")
