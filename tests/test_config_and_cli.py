"""Configuration errors, --version, schema, rules and the JSON contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import AGENTPOLICY, BILLING, clean_env, run


def ap(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    done = run([AGENTPOLICY, *args], tmp_path, clean_env(tmp_path))
    return done.code, done.out, done.err


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("agnets: [x]\n", "unknown key `agnets`"),
        ("require_signatures: 'yes please'\n", "invalid value for `require_signatures`"),
        ("agents: agents/*.yaml\n", "invalid value for `agents`"),
        ("rules: {AP101: maybe}\n", "rules.AP101 must be one of error, warning or off (got 'maybe')"),
        ("allow_self_approval: [true]\n", "invalid value for `allow_self_approval`"),
        ("agents: [x]\nagents: [y]\n", "duplicate key 'agents'"),
        ("- a\n- b\n", "must be a mapping"),
        ("key: [unclosed\n", "invalid YAML"),
    ],
)
def test_a_bad_config_is_exit_2_naming_the_key_and_line(tmp_path: Path, config: str, expected: str) -> None:
    (tmp_path / ".agentpolicy.yaml").write_text(config)
    (tmp_path / "a.yaml").write_text(BILLING)
    code, _, err = ap(tmp_path, "check", "a.yaml")
    assert code == 2
    assert expected in err
    assert ".agentpolicy.yaml:" in err
    assert "Traceback" not in err


def test_every_documented_key_is_accepted_with_its_default_type(tmp_path: Path) -> None:
    (tmp_path / ".agentpolicy.yaml").write_text(
        "agents: ['agents/**/*.yaml']\nreviews: reviews\nteams: [billing@example.com]\n"
        "rules: {AP112: warning}\nrequire_signatures: true\n"
        "allowed_signers: .agentpolicy/allowed_signers\nrevoked_signers: .agentpolicy/revoked\n"
        "allow_self_approval: false\nautonomy_expansion_approvals: 2\n"
    )
    (tmp_path / "a.yaml").write_text(BILLING)
    code, _, err = ap(tmp_path, "check", "a.yaml")
    assert (code, err) == (0, "")


def test_version_prints_the_version(tmp_path: Path) -> None:
    from agentpolicy import __version__

    code, out, _ = ap(tmp_path, "--version")
    assert (code, out) == (0, f"agentpolicy {__version__}\n")


def test_schema_prints_the_agent_json_schema(tmp_path: Path) -> None:
    code, out, _ = ap(tmp_path, "schema")
    schema = json.loads(out)
    assert code == 0
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {"owner", "autonomy", "monitoring", "undo", "change_control"} <= set(schema["properties"])


def test_rules_lists_every_rule_with_id_severity_and_source(tmp_path: Path) -> None:
    code, out, _ = ap(tmp_path, "rules", "--format", "json")
    listed = {rule["id"]: rule for rule in json.loads(out)}
    assert code == 0
    for rule_id in (
        "AP101",
        "AP102",
        "AP103",
        "AP110",
        "AP114",
        "AP120",
        "AP130",
        "AP140",
        "AP201",
    ):
        assert rule_id in listed
    assert listed["AP110"]["source"] == "built-in pack: policies/rules/AP110.yaml"
    assert listed["AP101"]["severity"] == "error"


def test_json_output_is_the_documented_stable_object(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(BILLING.replace("      alert: pagerduty:billing-oncall\n", ""))
    code, out, _ = ap(tmp_path, "check", "--format", "json", "a.yaml")
    report = json.loads(out)
    assert code == 1
    assert report["format_version"] == 1
    assert set(report) >= {
        "format_version",
        "tool",
        "mode",
        "findings",
        "changes",
        "notes",
        "summary",
    }
    assert report["findings"] == [
        {
            "rule": "AP112",
            "severity": "error",
            "file": "a.yaml",
            "line": 20,
            "column": 3,
            "message": "question 3 is unanswered: no monitoring signal with an alert destination",
            "hint": "add `monitoring: {signals: [{name: ..., detects: ..., alert: ...}]}`; `alert` says who is told",
            "agent": "billing-cycle",
            "waived": False,
        }
    ]
    assert report["summary"] == {"errors": 1, "warnings": 0, "waived": 0, "files_checked": 1, "exit_code": 1}


def test_check_outside_a_repository_without_paths_is_exit_2(tmp_path: Path) -> None:
    code, _, err = ap(tmp_path, "check")
    assert code == 2
    assert "not inside a git repository" in err
    assert "agentpolicy check PATH" in err


def test_conflicting_modes_are_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(BILLING)
    code, _, err = ap(tmp_path, "check", "--staged", "a.yaml")
    assert code == 2
    assert "cannot be combined" in err


def test_a_broken_config_at_head_says_which_side_and_how_to_get_out(tmp_path: Path) -> None:
    from tests.helpers import GitRepo

    repo = GitRepo(tmp_path / "repo", tmp_path)
    repo.write(".agentpolicy.yaml", "agnets: [x]\n")
    repo.commit("broken config")
    repo.write(".agentpolicy.yaml", "agents: ['agents/**/*.yaml']\n")
    repo.stage()
    done = repo.ap("check", "--staged")
    assert done.code == 2
    assert (
        ".agentpolicy.yaml:1: unknown key `agnets` (in HEAD, whose configuration judges this change)"
        in done.err
    )
    assert "git commit --no-verify" in done.err


def test_pushed_outside_the_pre_push_stage_is_a_usage_error(tmp_path: Path) -> None:
    from tests.helpers import GitRepo

    repo = GitRepo(tmp_path / "repo", tmp_path)
    done = repo.ap("check", "--pushed")
    assert done.code == 2
    assert "PRE_COMMIT_TO_REF" in done.err and "--base REV --head REV" in done.err


def test_approve_needs_exactly_one_of_agent_or_trust_root(tmp_path: Path) -> None:
    from tests.helpers import GitRepo

    repo = GitRepo(tmp_path / "repo", tmp_path)
    for args in (("approve",), ("approve", "billing-cycle", "--trust-root")):
        done = repo.ap(*args)
        assert done.code == 2
        assert "name one AGENT to approve, or pass --trust-root (not both)" in done.err
