"""Custom rule packs, change-gate policy from packs, waivers, and `agentpolicy test`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tests.helpers import (
    AGENTPOLICY,
    BILLING,
    EXPANDED_BILLING,
    GitRepo,
    Key,
    approve,
    clean_env,
    guarded_repo,
    run,
)

NO_REFUNDS = """\
id: ACME101
name: no-autonomous-refunds
severity: error
message: "production agents may not refund payments autonomously"
hint: "move `refund-payment` to requires_confirmation"
at: /autonomy/autonomous
when: {properties: {stage: {const: production}}, required: [stage]}
require:
  properties:
    autonomy:
      properties:
        autonomous:
          not: {contains: {properties: {action: {const: refund-payment}}, required: [action]}}
"""

OWNER_DOMAIN = """\
id: ACME102
severity: warning
message: "owners must have an @example.com address (our people registry)"
hint: "use the owner's company address"
require:
  properties:
    owner:
      properties:
        email: {pattern: "@example\\\\.com$"}
"""

DESCRIPTION = """\
id: ACME103
severity: error
message: "every agent needs a description"
hint: "add `description:` in a sentence"
require: {required: [description]}
"""

PACK_SETTINGS = """\
name: acme
approvals:
  - when: {properties: {x-data: {const: customer}}, required: [x-data]}
    approvals_required: 2
"""


def write_pack(root: Path, folder: str = "policies/acme") -> Path:
    pack = root / folder
    for name, text in (("ACME101", NO_REFUNDS), ("ACME102", OWNER_DOMAIN), ("ACME103", DESCRIPTION)):
        (pack / "rules").mkdir(parents=True, exist_ok=True)
        (pack / "rules" / f"{name}.yaml").write_text(text)
    (pack / "pack.yaml").write_text(PACK_SETTINGS)
    (pack / "tests" / "pass").mkdir(parents=True)
    (pack / "tests" / "fail").mkdir(parents=True)
    (pack / "tests" / "pass" / "billing.yaml").write_text(BILLING)
    (pack / "tests" / "fail" / "refunds.yaml").write_text(
        BILLING.replace(
            "    - action: send-notifications\n",
            "    - action: send-notifications\n    - action: refund-payment\n",
        )
    )
    return pack


REFUNDING = BILLING.replace(
    "    - action: send-notifications\n", "    - action: send-notifications\n    - action: refund-payment\n"
)


def test_a_custom_pack_applies_its_rules_from_a_real_repo(repo: GitRepo, keys: dict[str, Key]) -> None:
    write_pack(repo.path)
    guarded_repo(repo, keys, config="policy: [policies/acme]\n")
    repo.write(
        "agents/billing-cycle.yaml",
        REFUNDING.replace("description: Generates", "x-note: Generates")
        .replace("anna.nowak@example.com", "anna@elsewhere.org")
        .replace("1.4.0", "1.5.0"),
    )
    done = repo.ap("check", "--format", "json")
    findings = {f["rule"]: f for f in json.loads(done.out)["findings"]}
    assert done.code == 1
    assert findings["ACME101"]["message"] == "production agents may not refund payments autonomously"
    assert findings["ACME101"]["line"] == 11  # the offending list, mapped back to its YAML line
    assert findings["ACME102"]["severity"] == "warning"
    assert findings["ACME103"]["severity"] == "error"


def test_a_stage_conditional_rule_only_applies_to_that_stage(tmp_path: Path) -> None:
    write_pack(tmp_path)
    (tmp_path / ".agentpolicy.yaml").write_text("policy: [policies/acme]\n")
    (tmp_path / "a.yaml").write_text(REFUNDING.replace("stage: production", "stage: pilot"))
    done = run([AGENTPOLICY, "check", "--format", "json", "a.yaml"], tmp_path, clean_env(tmp_path))
    assert "ACME101" not in {f["rule"] for f in json.loads(done.out)["findings"]}
    (tmp_path / "a.yaml").write_text(REFUNDING)
    done = run([AGENTPOLICY, "check", "--format", "json", "a.yaml"], tmp_path, clean_env(tmp_path))
    assert "ACME101" in {f["rule"] for f in json.loads(done.out)["findings"]}


def test_a_pack_demands_more_approvals_for_a_class_of_agents(repo: GitRepo, keys: dict[str, Key]) -> None:
    write_pack(repo.path)
    guarded_repo(repo, keys, config="policy: [policies/acme]\n")
    customer = EXPANDED_BILLING + "x-data: customer\n"
    repo.write("agents/billing-cycle.yaml", customer)
    assert approve(repo, keys["rev"]).code == 0
    done = repo.ap("check")
    assert done.code == 1
    assert "needs 2 approving review entries" in done.out
    assert approve(repo, keys["rev2"]).code == 0
    assert repo.ap("check").code == 0


def test_rules_lists_where_each_rule_comes_from(tmp_path: Path) -> None:
    write_pack(tmp_path)
    (tmp_path / ".agentpolicy.yaml").write_text("policy: [policies/acme]\n")
    done = run([AGENTPOLICY, "rules", "--format", "json"], tmp_path, clean_env(tmp_path))
    sources = {rule["id"]: rule["source"] for rule in json.loads(done.out)}
    assert sources["ACME101"] == "pack policies/acme: policies/acme/rules/ACME101.yaml"
    assert sources["AP110"].startswith("built-in pack")
    assert sources["AP101"] == "built-in (python)"


def test_a_pack_that_reuses_a_built_in_id_is_a_config_error(tmp_path: Path) -> None:
    pack = write_pack(tmp_path)
    (pack / "rules" / "ACME103.yaml").write_text(DESCRIPTION.replace("ACME103", "AP101"))
    (tmp_path / ".agentpolicy.yaml").write_text("policy: [policies/acme]\n")
    (tmp_path / "a.yaml").write_text(BILLING)
    done = run([AGENTPOLICY, "check", "a.yaml"], tmp_path, clean_env(tmp_path))
    assert done.code == 2
    assert "redefines rule id(s) AP101" in done.err


def test_a_missing_pack_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / ".agentpolicy.yaml").write_text("policy: [policies/nope]\n")
    (tmp_path / "a.yaml").write_text(BILLING)
    done = run([AGENTPOLICY, "check", "a.yaml"], tmp_path, clean_env(tmp_path))
    assert done.code == 2
    assert "policy pack 'policies/nope' was not found" in done.err


def test_agentpolicy_test_runs_the_examples_and_names_the_ones_that_misbehave(tmp_path: Path) -> None:
    pack = write_pack(tmp_path)
    done = run([AGENTPOLICY, "test", str(pack)], tmp_path, clean_env(tmp_path))
    assert done.code == 0, done.text
    assert "2 example(s), 0 misbehaving." in done.out
    (pack / "tests" / "fail" / "not-really.yaml").write_text(BILLING)
    (pack / "tests" / "pass" / "refunds-too.yaml").write_text(REFUNDING)
    done = run([AGENTPOLICY, "test", str(pack)], tmp_path, clean_env(tmp_path))
    assert done.code == 1
    assert (
        "FAIL  pack " in done.out
        and "not-really.yaml should fail, but no rule of the pack flags it" in done.out
    )
    assert "refunds-too.yaml should pass but gives:" in done.out and "ACME101" in done.out


def test_the_built_in_pack_passes_its_own_examples(tmp_path: Path) -> None:
    done = run([AGENTPOLICY, "test"], tmp_path, clean_env(tmp_path))
    assert done.code == 0, done.text
    assert "0 misbehaving" in done.out
    assert done.out.count("ok    built-in pack") >= 8


def test_an_installed_pack_is_found_by_its_entry_point(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write_pack(site, "acmepack")
    (site / "acmepack" / "__init__.py").write_text("")
    info = site / "acmepack-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acmepack\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[agentpolicy.rules.packs]\nacme = acmepack\n")
    env = clean_env(tmp_path, PYTHONPATH=str(site))
    (tmp_path / ".agentpolicy.yaml").write_text("policy: [acme]\n")
    (tmp_path / "a.yaml").write_text(REFUNDING)
    done = run([AGENTPOLICY, "check", "--format", "json", "a.yaml"], tmp_path, env)
    assert "ACME101" in {f["rule"] for f in json.loads(done.out)["findings"]}
    assert run([AGENTPOLICY, "test", "acme"], tmp_path, env).code == 0


SOON = (dt.date.today() + dt.timedelta(days=90)).isoformat()  # within max_waiver_days


def waiver(expires: str, rule: str = "AP112", extra: str = "") -> str:
    return (
        "waivers:\n"
        f"  - rule: {rule}\n    agent: billing-cycle\n    reason: Alerting moves to the new pager in Q1.\n"
        f"    owner: {{name: Anna Nowak, email: anna.nowak@example.com}}\n    expires: {expires}\n{extra}"
    )


NO_ALERT = BILLING.replace("      alert: pagerduty:billing-oncall\n", "")


def test_an_active_waiver_reports_the_finding_as_waived(tmp_path: Path) -> None:
    (tmp_path / ".agentpolicy.yaml").write_text(waiver(SOON))
    (tmp_path / "a.yaml").write_text(NO_ALERT)
    done = run([AGENTPOLICY, "check", "--format", "json", "a.yaml"], tmp_path, clean_env(tmp_path))
    report = json.loads(done.out)
    assert done.code == 0
    assert report["findings"][0]["waived"] is True
    assert report["summary"]["waived"] == 1 and report["summary"]["errors"] == 0
    text = run([AGENTPOLICY, "check", "a.yaml"], tmp_path, clean_env(tmp_path)).out
    assert "waived error AP112" in text and "1 waived" in text


def test_an_expired_waiver_is_an_error_naming_its_owner(tmp_path: Path) -> None:
    yesterday = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    (tmp_path / ".agentpolicy.yaml").write_text(waiver(yesterday))
    (tmp_path / "a.yaml").write_text(NO_ALERT)
    done = run([AGENTPOLICY, "check", "a.yaml"], tmp_path, clean_env(tmp_path))
    assert done.code == 1
    assert (
        f"AP150 waiver for AP112 on billing-cycle expired on {yesterday} (owner: Anna Nowak <anna.nowak@example.com>)"
        in done.out
    )
    assert ".agentpolicy.yaml:2:5:" in done.out
    assert "error AP112" in done.out  # the waived finding is back in force


def test_a_waiver_without_expiry_or_reason_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(NO_ALERT)
    for missing in ("expires", "reason"):
        text = waiver(SOON)
        text = (
            "\n".join(line for line in text.splitlines() if not line.strip().startswith(f"{missing}:")) + "\n"
        )
        (tmp_path / ".agentpolicy.yaml").write_text(text)
        done = run([AGENTPOLICY, "check", "a.yaml"], tmp_path, clean_env(tmp_path))
        assert done.code == 2
        assert f"`waivers[0]` is missing the required key `{missing}`" in done.err


def test_gate_rules_cannot_be_waived(tmp_path: Path) -> None:
    (tmp_path / ".agentpolicy.yaml").write_text(waiver(SOON, rule="AP201"))
    (tmp_path / "a.yaml").write_text(BILLING)
    done = run([AGENTPOLICY, "check", "a.yaml"], tmp_path, clean_env(tmp_path))
    assert done.code == 2
    assert "cannot be waived" in done.err


def test_audit_writes_several_formats_in_one_run(repo: GitRepo, keys: dict[str, Key], tmp_path: Path) -> None:
    guarded_repo(repo, keys)
    html, csv_file, md = tmp_path / "a.html", tmp_path / "a.csv", tmp_path / "a.md"
    done = repo.ap(
        "audit", "--format", "json", "-o", f"html={html}", "-o", f"csv={csv_file}", "-o", f"markdown={md}"
    )
    assert done.code == 0
    assert json.loads(done.out)["summary"]["events"] == 1
    assert "<!DOCTYPE html>" in html.read_text()
    assert csv_file.read_text().startswith("date,commit,agent")
    assert md.read_text().startswith("# Agent approval audit")
