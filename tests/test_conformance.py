"""`agentpolicy conformance`: runtime events judged against the boundary approved in git at their time.

One history, built once: billing-cycle 1.4.0 approved on 2030-01-01, its
boundary expanded (submit-to-client-portal becomes autonomous) in 1.5.0 on
2030-02-01, an unapproved 1.6.0 on 2030-03-01, and its retirement approved on
2030-04-01. The same action is a finding before the expansion and fine after.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import AGENTPOLICY, BILLING, EXPANDED_BILLING, GitRepo, Key, approve
from tests.test_output_injection import (
    assert_github_safe,
    assert_json_safe,
    assert_terminal_safe,
    assert_xml_safe,
)

UNAPPROVED = EXPANDED_BILLING.replace("version: 1.5.0 ", "version: 1.6.0 ").replace(
    "    - action: send-notifications\n", "    - action: send-notifications\n    - action: refund-payment\n"
)
RETIRED = (
    BILLING.replace("version: 1.4.0 ", "version: 2.0.0 ")
    .replace("stage: production ", "stage: retired ")
    .replace(
        "    - action: generate-billing-documents\n      description: Render the monthly invoices as PDF.\n"
        "    - action: send-notifications\n",
        "",
    )
    .replace("  autonomous:\n", "  autonomous: []\n")
)


def commit_at(repo: GitRepo, when: str, message: str) -> None:
    repo.git("add", "-A")
    dated = {**repo.env, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when}
    repo.git("commit", "-q", "--no-verify", "-m", message, env=dated)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Key]) -> GitRepo:
    home = tmp_path_factory.mktemp("home")
    repo = GitRepo(tmp_path_factory.mktemp("history") / "repo", home)
    repo.write(".agentpolicy/allowed_signers", "".join(keys[n].signer_line() + "\n" for n in ("rev", "dev")))
    repo.write("agents/billing-cycle.yaml", BILLING)
    assert approve(repo, keys["rev"]).code == 0
    commit_at(repo, "2030-01-01T00:00:00Z", "billing 1.4.0")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    commit_at(repo, "2030-02-01T00:00:00Z", "billing 1.5.0: portal submission becomes autonomous")
    repo.write("agents/billing-cycle.yaml", UNAPPROVED)
    commit_at(repo, "2030-03-01T00:00:00Z", "billing 1.6.0, never approved")
    repo.write("agents/billing-cycle.yaml", RETIRED)
    done = approve(repo, keys["rev"])
    assert done.code == 0, done.text
    commit_at(repo, "2030-04-01T00:00:00Z", "retire billing")
    return repo


def event(time: str, action: str, agent: str = "billing-cycle", **extra: str) -> dict:
    return {"time": time, "agent": agent, "action": action, **extra}


# (event, rules expected): the story of the history above
STORY = [
    (event("2029-12-31T23:00:00Z", "send-notifications"), ["AP507"]),
    (event("2030-01-15T00:00:00Z", "submit-to-client-portal"), ["AP503"]),
    (event("2030-01-15T00:00:00Z", "submit-to-client-portal", confirmed_by="Anna Nowak"), []),
    (event("2030-02-01T01:30:00+02:00", "submit-to-client-portal"), ["AP503"]),  # 23:30Z the day before
    (event("2030-02-01T00:00:00Z", "submit-to-client-portal"), []),  # at the commit: in force
    (event("2030-02-15T00:00:00Z", "submit-to-client-portal"), []),
    (event("2030-01-15T00:00:00Z", "send-notifications", version="1.5.0"), ["AP504"]),
    (event("2030-02-15T00:00:00Z", "send-notifications", version="1.5.0"), []),
    (event("2030-02-15T00:00:00Z", "send-notifications", version="1.4.0"), []),
    (event("2030-03-15T00:00:00Z", "refund-payment", version="1.6.0"), ["AP504", "AP501"]),
    (event("2030-03-15T00:00:00Z", "send-notifications"), []),  # the unapproved 1.6.0 changes nothing
    (event("2030-04-15T00:00:00Z", "send-notifications"), ["AP505"]),
    (event("2030-02-15T00:00:00Z", "anything", agent="ghost"), ["AP506"]),
]


def findings_by_line(repo: GitRepo, *logs: str) -> tuple[int, dict[int, list[str]], dict]:
    done = repo.ap("conformance", *logs, "--format", "json")
    assert done.code in (0, 1), done.text
    report = json.loads(done.out)
    found: dict[int, list[str]] = {}
    for finding in report["findings"]:
        found.setdefault(finding["line"], []).append(finding["rule"])
    return done.code, found, report


def otlp_record(events: list[dict]) -> dict:
    """One OTLP JSON export: an invoke_agent span per event, with the execute_tool span under it."""
    spans = []
    for number, given in enumerate(events):
        import datetime as dt

        nanos = int(dt.datetime.fromisoformat(given["time"]).timestamp()) * 10**9
        parent, child = f"{number:016x}", f"{number + 1000:016x}"
        agent_attrs = [{"key": "gen_ai.agent.name", "value": {"stringValue": given["agent"]}}]
        if "version" in given:
            agent_attrs.append({"key": "gen_ai.agent.version", "value": {"stringValue": given["version"]}})
        tool_attrs = [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}},
            {"key": "gen_ai.tool.name", "value": {"stringValue": given["action"]}},
        ]
        if "confirmed_by" in given:
            tool_attrs.append(
                {"key": "agentpolicy.confirmed_by", "value": {"stringValue": given["confirmed_by"]}}
            )
        spans.append(
            {"traceId": "ab" * 16, "spanId": parent, "name": "invoke_agent", "attributes": agent_attrs}
        )
        spans.append(
            {
                "traceId": "ab" * 16,
                "spanId": child,
                "parentSpanId": parent,
                "name": f"execute_tool {given['action']}",
                "startTimeUnixNano": str(nanos),
                "attributes": tool_attrs,
            }
        )
    return {
        "resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {}, "spans": spans}]}]
    }


def test_jsonl_events_are_judged_against_the_boundary_in_force_at_their_time(history: GitRepo) -> None:
    log = history.write("runtime.jsonl", "".join(json.dumps(given) + "\n" for given, _ in STORY))
    code, found, report = findings_by_line(history, str(log))
    assert code == 1
    for line, (given, expected) in enumerate(STORY, start=1):
        assert sorted(found.get(line, [])) == sorted(expected), (line, given, found.get(line))
    assert report["conformance"]["events"] == len(STORY) and report["mode"] == "conformance"


def test_otlp_spans_are_judged_like_jsonl_one_record_per_line_or_one_document(history: GitRepo) -> None:
    per_line = history.write(
        "spans.jsonl", "".join(json.dumps(otlp_record([given])) + "\n" for given, _ in STORY)
    )
    code, found, _ = findings_by_line(history, str(per_line))
    assert code == 1
    for line, (given, expected) in enumerate(STORY, start=1):
        assert sorted(found.get(line, [])) == sorted(expected), (line, given, found.get(line))
    document = history.write("trace.json", json.dumps(otlp_record([given for given, _ in STORY]), indent=2))
    done = history.ap("conformance", str(document), "--format", "json")
    rules = sorted(finding["rule"] for finding in json.loads(done.out)["findings"])
    assert rules == sorted(rule for _, expected in STORY for rule in expected)
    assert "span " in json.loads(done.out)["findings"][0]["message"]


def test_a_conforming_log_passes_with_exit_0(history: GitRepo) -> None:
    fine = [given for given, expected in STORY if not expected]
    log = history.write("fine.jsonl", "".join(json.dumps(given) + "\n" for given in fine))
    done = history.ap("conformance", str(log))
    assert done.code == 0, done.text
    assert f"All events conform ({len(fine)} events in 1 log)." in done.out


def test_rev_judges_against_another_branch_history(history: GitRepo) -> None:
    log = history.write("late.jsonl", json.dumps(event("2030-04-15T00:00:00Z", "send-notifications")) + "\n")
    assert history.ap("conformance", str(log)).code == 1  # retired on HEAD
    assert history.ap("conformance", str(log), "--rev", "HEAD~1").code == 0  # not yet retired there


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "an event is a JSON object"),
        (b"[" * 200_000, "nested too deeply"),
        (b'{"time": "2030-02-15T00:00:00Z", "agent": "\xff\xfe", "action": "x"}', "not UTF-8"),
        (json.dumps(event("2030-02-15T00:00:00", "send-notifications")).encode(), "has no zone"),
        (json.dumps(event("15/02/2030", "send-notifications")).encode(), "not an ISO 8601 time"),
        (json.dumps(event("2030-02-15T00:00:00Z", "")).encode(), "`action` must be a non-empty string"),
        (json.dumps(event("2030-02-15T00:00:00Z", "x" * 600)).encode(), "longer than 512"),
        (
            json.dumps({"time": "2030-02-15T00:00:00Z", "agent": "billing-cycle"}).encode(),
            "`action` is missing",
        ),
    ],
)
def test_a_malformed_line_is_a_finding_with_its_number_and_the_rest_is_judged(
    history: GitRepo, line: bytes, why: str
) -> None:
    good = json.dumps(event("2030-01-15T00:00:00Z", "submit-to-client-portal")).encode()
    history.write("bad.jsonl", b"\n".join([good, line, good]) + b"\n")
    _, found, report = findings_by_line(history, "bad.jsonl")
    assert found == {1: ["AP503"], 2: ["AP500"], 3: ["AP503"]}
    assert why in next(f["message"] for f in report["findings"] if f["line"] == 2)


def test_a_huge_line_is_skipped_in_bounded_memory(history: GitRepo) -> None:
    good = json.dumps(event("2030-01-15T00:00:00Z", "submit-to-client-portal")).encode()
    huge = b'{"time": "' + b"9" * (3 * 1024 * 1024) + b'"}'
    history.write("huge.jsonl", b"\n".join([huge, good]) + b"\n")
    _, found, report = findings_by_line(history, "huge.jsonl")
    assert found == {1: ["AP500"], 2: ["AP503"]}
    assert "longer than 1048576 bytes" in report["findings"][0]["message"]


HOSTILE = "evil\x1b[2J\n::error::forged\u202e\r<script>=cmd|' /C calc'!A0]]>\udc80"
# the project's oracle per consumer (tests/test_output_injection.py): terminal, runner, JSON, XML
SAFE_FOR = {
    "text": lambda out: assert_terminal_safe(out.decode("utf-8")),
    "github": lambda out: assert_github_safe(out.decode("utf-8")),
    "json": assert_json_safe,
    "sarif": assert_json_safe,
    "gitlab": assert_json_safe,
    "junit": assert_xml_safe,
}


@pytest.mark.parametrize("fmt", sorted(SAFE_FOR))
def test_control_characters_in_names_are_neutralised_in_every_format(history: GitRepo, fmt: str) -> None:
    hostile = json.dumps(event("2030-02-15T00:00:00Z", HOSTILE, agent=HOSTILE))  # escapes: valid UTF-8 JSON
    history.write(
        "hostile.jsonl",
        hostile + "\n" + hostile.replace('"time": "2030-02-15T00:00:00Z"', '"time": 5') + "\n",
    )
    out = subprocess.run(
        [AGENTPOLICY, "conformance", "hostile.jsonl", "--format", fmt],
        cwd=history.path,
        env=history.env,
        capture_output=True,
        check=False,
    )
    assert out.returncode == 1, out.stderr
    SAFE_FOR[fmt](out.stdout)
    assert b"AP506" in out.stdout and b"AP500" in out.stdout


def test_max_findings_keeps_memory_flat_and_still_counts_everything(history: GitRepo) -> None:
    bad = json.dumps(event("2030-02-15T00:00:00Z", "anything", agent="ghost")) + "\n"
    history.write("many.jsonl", bad * 50)
    done = history.ap("conformance", "many.jsonl", "--format", "json", "--max-findings", "10")
    report = json.loads(done.out)
    assert done.code == 1 and len(report["findings"]) == 10
    assert report["summary"]["errors"] == 50 and report["summary"]["exit_code"] == 1
    assert any("40 more findings counted but not listed" in note for note in report["notes"])


def test_extra_outputs_and_environment_errors(history: GitRepo, tmp_path: Path) -> None:
    log = history.write(
        "one.jsonl", json.dumps(event("2030-01-15T00:00:00Z", "submit-to-client-portal")) + "\n"
    )
    done = history.ap("conformance", str(log), "-o", f"sarif={tmp_path / 'c.sarif'}")
    assert done.code == 1 and "AP503" in (tmp_path / "c.sarif").read_text()
    missing = history.ap("conformance", "nowhere.jsonl")
    assert missing.code == 2
    bad_rev = history.ap("conformance", str(log), "--rev", "no-such-branch", "--format", "json")
    assert bad_rev.code == 2 and json.loads(bad_rev.out)["error"]["exit_code"] == 2


def span(span_id: str, attrs: dict, parent: str | None = None, start: object = "1893456000000000000") -> dict:
    found = {"spanId": span_id, "startTimeUnixNano": start}
    found["attributes"] = [{"key": key, "value": {"stringValue": value}} for key, value in attrs.items()]
    if parent:
        found["parentSpanId"] = parent
    return found


def records(*spans_per_record: list) -> str:
    return "".join(
        json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}) + "\n"
        for spans in spans_per_record
    )


TOOL = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "send-notifications"}


def test_hostile_otlp_records_are_findings_never_crashes_or_hangs(history: GitRepo) -> None:
    agent = {"gen_ai.agent.name": "billing-cycle"}
    history.write(
        "hostile-otlp.jsonl",
        records(
            [span("a", {**TOOL, **agent})],  # 2030-01-01T00:00:00Z: conforms
            [span("b", {"gen_ai.operation.name": "execute_tool", **agent})],  # no tool name
            [span("c", TOOL)],  # no agent anywhere
            [span("d", {**TOOL, **agent}, start="yesterday")],
            [span("e", {**TOOL, **agent}, start="0")],
            [span("f", TOOL, parent="g"), span("g", {"x": "y"}, parent="f")],  # a loop of parents
            [span("h", {"gen_ai.operation.name": "chat", **agent})],  # not a tool execution: no event
        )
        + '{"resourceSpans": {"not": "a list"}}\n'
        + '{"resourceSpans": [{"scopeSpans": [{"spans": [5]}]}]}\n',
    )
    code, found, report = findings_by_line(history, "hostile-otlp.jsonl")
    assert code == 1
    assert found == {
        2: ["AP500"],
        3: ["AP500"],
        4: ["AP500"],
        5: ["AP500"],
        6: ["AP500"],
        8: ["AP500"],
        9: ["AP500"],
    }
    messages = {f["line"]: f["message"] for f in report["findings"]}
    assert "gen_ai.tool.name" in messages[2] and "gen_ai.agent.name" in messages[3]
    assert "whole number of nanoseconds" in messages[4] and "out of range" in messages[5]
    assert report["conformance"]["events"] == 1


def test_an_agent_name_inherited_from_the_resource_counts(history: GitRepo) -> None:
    record = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "gen_ai.agent.name", "value": {"stringValue": "billing-cycle"}}]
                },
                "scopeSpans": [{"spans": [span("a", {**TOOL, "gen_ai.agent.version": "1.4.0"})]}],
            }
        ]
    }
    history.write("resource.jsonl", json.dumps(record) + "\n")
    assert history.ap("conformance", "resource.jsonl").code == 0


def test_a_change_approved_later_takes_effect_when_its_approval_lands(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    repo.write(".agentpolicy/allowed_signers", keys["rev"].signer_line() + "\n")
    repo.write("agents/billing-cycle.yaml", BILLING)
    assert approve(repo, keys["rev"]).code == 0
    commit_at(repo, "2030-01-01T00:00:00Z", "billing 1.4.0")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    commit_at(repo, "2030-02-01T00:00:00Z", "expansion, merged before its review")
    assert approve(repo, keys["rev"]).code == 0
    commit_at(repo, "2030-02-10T00:00:00Z", "the review of the expansion")
    portal = "submit-to-client-portal"
    history_log = [event("2030-02-05T00:00:00Z", portal), event("2030-02-15T00:00:00Z", portal)]
    repo.write("later.jsonl", "".join(json.dumps(given) + "\n" for given in history_log))
    _, found, _ = findings_by_line(repo, "later.jsonl")
    assert found == {1: ["AP503"]}


def test_a_shallow_clone_is_refused_rather_than_misjudged(history: GitRepo, tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{history.path}", str(clone)],
        check=True,
        env=history.env,
        capture_output=True,
    )
    (clone / "one.jsonl").write_text(json.dumps(event("2030-04-15T00:00:00Z", "send-notifications")) + "\n")
    done = subprocess.run(
        [AGENTPOLICY, "conformance", "one.jsonl"], cwd=clone, env=history.env, capture_output=True, text=True
    )
    assert done.returncode == 2 and "shallow" in done.stderr


def test_conformance_and_export_agree_on_the_boundary_approved_at_each_commit(history: GitRepo) -> None:
    import datetime as dt

    from agentpolicy.conformance.timeline import build_timelines
    from agentpolicy.runtime import Boundary

    timeline = build_timelines(str(history.path), "HEAD").agents["billing-cycle"]
    for rev, when in (("HEAD~3", "2030-01-15"), ("HEAD~2", "2030-02-15"), ("HEAD~2", "2030-03-15")):
        state, _ = timeline.at(dt.datetime.fromisoformat(when + "T00:00:00+00:00"))
        assert state == Boundary.from_repo(history.path, "billing-cycle", rev=rev), (rev, when)
