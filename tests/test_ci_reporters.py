"""CI reporters (github, sarif, junit, gitlab) and `check --ci` environment detection."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema
import pytest

from tests.helpers import BILLING, EXPANDED_BILLING, GitRepo, Key, approve, guarded_repo

SARIF_SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0.json").read_text())


@pytest.fixture
def pr(repo: GitRepo, keys: dict[str, Key]) -> GitRepo:
    """A pull request branch that expands autonomy without a review, and breaks a second agent."""
    guarded_repo(repo, keys)
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.write(
        "agents/broken.yaml",
        BILLING.replace("name: billing-cycle", "name: broken").replace(
            "  name: Anna Nowak\n  email: anna.nowak@example.com\n",
            "  name: '@acme/billing'\n  email: b@example.com\n",
        ),
    )
    repo.commit("expand")
    return repo


def test_github_format_is_one_annotation_per_finding_at_the_changed_line(pr: GitRepo) -> None:
    done = pr.ap("check", "--base", "main", "--format", "github")
    assert done.code == 1
    lines = done.out.splitlines()
    expand = next(line for line in lines if "title=AP201" in line)
    assert expand.startswith("::error file=agents/billing-cycle.yaml,line=15,col=7,title=AP201::")
    assert "%0Afix: Ask a reviewer to run" in expand
    assert any(
        line.startswith("::error file=agents/broken.yaml,line=8,col=3,title=AP101::") for line in lines
    )


def test_github_escaping_of_data_and_properties() -> None:
    from agentpolicy.report.github import escape_data, escape_property

    assert escape_data("50%\r\nnext") == "50%25%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_github_says_when_there_are_more_annotations_than_shown(tmp_path: Path, repo: GitRepo) -> None:
    for number in range(12):
        repo.write(
            f"agents/a{number}.yaml",
            BILLING.replace("name: billing-cycle", f"name: a{number}").replace(
                "      alert: pagerduty:billing-oncall\n", ""
            ),
        )
    summary = tmp_path / "summary.md"
    env = dict(repo.env, GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary), GITHUB_BASE_REF="main")
    repo.commit("init")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("agents/a0.yaml", repo.read("agents/a0.yaml") + "# touch\n")
    repo.commit("touch")
    done = repo.ap("check", "--ci", env=env)
    assert done.code == 1
    assert "::notice title=agentpolicy::12 errors found; GitHub shows only 10" in done.out
    text = summary.read_text()
    assert text.count("| AP112 |") == 12


def test_sarif_validates_against_the_official_schema_and_fingerprints_are_stable(pr: GitRepo) -> None:
    first = pr.ap("check", "--base", "main", "--format", "sarif")
    second = pr.ap("check", "--base", "main", "--format", "sarif")
    log = json.loads(first.out)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["version"]
    assert all(
        {"id", "shortDescription", "fullDescription", "help", "defaultConfiguration"} <= set(r) for r in rules
    )
    result = next(r for r in run["results"] if r["ruleId"] == "AP201")
    assert result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 15, "startColumn": 7}
    assert rules[result["ruleIndex"]]["id"] == "AP201"
    prints = [r["partialFingerprints"] for r in run["results"]]
    assert prints == [r["partialFingerprints"] for r in json.loads(second.out)["runs"][0]["results"]]
    assert len({json.dumps(p) for p in prints}) == len(prints)


def test_junit_has_one_case_per_agent_and_rule_with_stable_names(pr: GitRepo) -> None:
    done = pr.ap("check", "--base", "main", "--format", "junit")
    suites = ET.fromstring(done.out)
    cases = {case.get("name"): case for case in suites.iter("testcase")}
    assert "billing-cycle::AP201" in cases and "broken::AP101" in cases
    assert cases["billing-cycle::AP201"].find("failure") is not None
    assert cases["billing-cycle::AP101"].find("failure") is None
    assert int(suites.get("failures") or 0) >= 2
    assert all("::" in name and " " not in name for name in cases)


def test_junit_reports_a_tool_error_as_an_error_case(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    done = repo.ap("check", "--base", "nope", "--format", "junit")
    assert done.code == 2
    suites = ET.fromstring(done.out)
    error = next(suites.iter("error"))
    assert "unknown revision 'nope'" in (error.get("message") or "")


def test_gitlab_code_quality_fields(pr: GitRepo) -> None:
    done = pr.ap("check", "--base", "main", "--format", "gitlab")
    issues = json.loads(done.out)
    issue = next(i for i in issues if i["check_name"] == "AP201")
    assert issue["severity"] == "critical"
    assert issue["location"] == {"path": "agents/billing-cycle.yaml", "lines": {"begin": 15}}
    assert len(issue["fingerprint"]) == 32
    assert issue["description"].startswith("AP201 billing-cycle 1.4.0 -> 1.5.0")


def test_json_lists_the_change_events(pr: GitRepo) -> None:
    report = json.loads(pr.ap("check", "--base", "main", "--format", "json").out)
    change = next(c for c in report["changes"] if c["agent"] == "billing-cycle")
    assert change["kinds"] == ["version-changed", "autonomy-expanded"]
    assert change["needs_review"] is True and change["approved_by"] == []


def test_one_run_writes_several_formats(pr: GitRepo, tmp_path: Path) -> None:
    sarif, junit, gitlab = tmp_path / "a.sarif", tmp_path / "a.xml", tmp_path / "gl.json"
    done = pr.ap(
        "check", "--base", "main", "-o", f"sarif={sarif}", "-o", f"junit={junit}", "-o", f"gitlab={gitlab}"
    )
    assert done.code == 1
    assert done.out.rstrip().endswith("governed changes).")  # the text report still goes to the terminal
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(json.loads(sarif.read_text()))
    assert ET.parse(junit).getroot().tag == "testsuites"
    assert json.loads(gitlab.read_text())


def test_a_bad_output_spec_is_a_usage_error(pr: GitRepo) -> None:
    done = pr.ap("check", "-o", "pdf=x.pdf")
    assert done.code == 2
    assert "FORMAT=PATH" in done.err


def test_ci_on_a_github_pull_request_uses_the_base_ref_and_writes_the_summary(
    pr: GitRepo, tmp_path: Path, keys: dict[str, Key]
) -> None:
    summary = tmp_path / "summary.md"
    env = dict(pr.env, GITHUB_ACTIONS="true", GITHUB_BASE_REF="main", GITHUB_STEP_SUMMARY=str(summary))
    done = pr.ap("check", "--ci", env=env)
    assert done.code == 1
    assert "::error file=agents/billing-cycle.yaml" in done.out  # github format picked automatically
    text = summary.read_text()
    assert (
        "| billing-cycle | version-changed, autonomy-expanded | 1.4.0 -> 1.5.0 | yes (1) | **none** |" in text
    )
    pr.git("rm", "-q", "agents/broken.yaml")
    assert approve(pr, keys["rev"]).code == 0
    pr.commit("approval")
    done = pr.ap("check", "--ci", env=env)
    assert done.code == 0, done.text


def test_ci_on_a_github_push_to_the_default_branch_uses_the_event_before_commit(
    pr: GitRepo, tmp_path: Path
) -> None:
    before = pr.git("rev-parse", "main").strip()
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"before": before, "repository": {"default_branch": "main"}}))
    env = dict(
        pr.env,
        GITHUB_ACTIONS="true",
        GITHUB_EVENT_NAME="push",
        GITHUB_EVENT_PATH=str(event),
        GITHUB_REF="refs/heads/main",
    )
    done = pr.ap("check", "--ci", "--format", "json", env=env)
    assert done.code == 1
    assert json.loads(done.out)["mode"] == "range"


def test_ci_on_gitlab_uses_the_merge_request_base(pr: GitRepo) -> None:
    base = pr.git("rev-parse", "main").strip()
    env = dict(pr.env, GITLAB_CI="true", CI_MERGE_REQUEST_DIFF_BASE_SHA=base)
    done = pr.ap("check", "--ci", "--format", "json", env=env)
    assert done.code == 1
    assert {c["agent"] for c in json.loads(done.out)["changes"]} == {"billing-cycle", "broken"}


def test_ci_outside_ci_is_exit_2_and_a_run_without_an_event_is_judged_by_the_default_branch(
    pr: GitRepo,
) -> None:
    done = pr.ap("check", "--ci")
    assert done.code == 2
    assert "no CI environment" in done.err
    done = pr.ap("check", "--ci", "--format", "text", env=dict(pr.env, GITHUB_ACTIONS="true"))
    assert done.code == 1, done.text  # no origin: the local main is the default branch
    assert done.out.startswith("note: --ci: GitHub run: range merge-base(refs/heads/main, HEAD)..HEAD")
