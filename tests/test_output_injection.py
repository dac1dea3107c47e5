"""Output injection (issue 13, attack 13): strings from the repository under review reach
every output format neutralised for the consumer that reads it.

One set of hostile strings goes through every place a repository string is printed
(reviewer names and notes, agent fields, file names, pack rule texts, commit authors)
into every format, and each test asserts what that format's consumer would do with it:
the GitHub runner, a terminal, a Markdown renderer, a spreadsheet, a JSON, XML or HTML
parser.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from tests.helpers import BILLING, GitRepo, Key, agent_yaml, guarded_repo

HOSTILE_STRINGS = {  # every class of hostile string, short enough for the schema's length caps
    "spreadsheet_formula": '=HYPERLINK("//e.x","go")',
    "workflow_command": "\n::error::pwned",
    "stop_commands": "\n::stop-commands::t",
    "legacy_workflow_command": " ##[warning]o",
    "escaped_newline": " %0A::notice::p",
    "ansi_clear_screen": " \x1b[2J\x1b[31mr",
    "osc8_hyperlink": " \x1b]8;;//e.x\x1b\\l\x1b]8;;\x1b\\",
    "bidi_override": " \u202eexe\u202c\u2066i\u2069",
    "html_script": " <script>alert(1)</script><img onerror=a()>",
    "table_pipe": " a|b|",
    "c0_and_c1_controls": " \x07\x08\x7f\x85\x9b",
    "markdown_link_and_image": " [a](https://e.x) ![p](https://e.x/p)",
    "mention": " @octocat www.e.x",
    "carriage_return": "\rAll passed",
}
HOSTILE = "".join(HOSTILE_STRINGS.values())
# `approve --reviewer "NAME <EMAIL>"` cannot take angle brackets in NAME; git drops them and newlines.
HOSTILE_NAME = HOSTILE.replace("<", "(").replace(">", ")")
HOSTILE_AUTHOR = HOSTILE_NAME.replace("\n", " ")
UNDECODABLE = "\udcff"  # the byte 0xff of a file name, decoded with surrogateescape

_HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}
_ANNOTATION = re.compile(r"::(error|warning|notice)( [a-z]+=[^,:\n]*(,[a-z]+=[^,:\n]*)*)?::")
_FORMULA_STARTS = tuple("=+-@\t\r\uff1d\uff0b\uff0d\uff20")


# -- what each consumer must be able to rely on ----------------------------------
def hidden_characters(text: str, allowed: str = "\n") -> list[str]:
    return [c for c in text if c not in allowed and unicodedata.category(c) in _HIDDEN]


def assert_terminal_safe(text: str) -> None:
    """No escape sequence, control, bidi override or lone surrogate reaches the terminal."""
    assert not hidden_characters(text), f"hidden characters {hidden_characters(text)!r} in:\n{text}"


def assert_github_safe(text: str) -> None:
    """The runner finds no workflow command but our own annotations."""
    assert "##[" not in text, text
    for line in text.split("\n"):
        trimmed = line.strip()
        if trimmed.startswith("::"):
            assert _ANNOTATION.match(trimmed), f"a line the runner reads as a command: {line!r}"
    assert_terminal_safe(text)


def _unescaped(text: str) -> str:
    """Markdown with every backslash-escaped character removed: what is left is markup."""
    return re.sub(r"\\.", "", text)


def assert_markdown_safe(text: str) -> None:
    """No HTML, links, images or autolinks, no @mentions, and every table keeps its columns."""
    bare = _unescaped(text)
    assert "<" not in bare, text  # no tag, no autolink
    assert "[" not in bare and "]" not in bare, text
    assert "://" not in bare and not re.search(r"(?i)\bwww\.", bare), text
    assert not re.search(r"(?<![\w`\\])@[A-Za-z0-9]", text), text
    table_columns: list[int] = []
    for line in text.split("\n"):
        if line.startswith("|"):
            table_columns.append(_unescaped(line).count("|"))
            assert len(set(table_columns)) == 1, f"a row breaks its table: {line!r}"
        else:
            table_columns = []
    assert_terminal_safe(text)


def assert_csv_safe(text: str) -> None:
    """A spreadsheet opening it finds no formula (OWASP): formula starts are prefixed with '."""
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) > 1
    width = len(rows[0])
    for row in rows:
        assert len(row) == width, row
        for cell in row:
            assert cell == "-" or not cell.lstrip(" ").startswith(_FORMULA_STARTS), cell
    assert_terminal_safe(text)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def assert_json_safe(data: bytes) -> Any:
    """Valid UTF-8 JSON, with no lone surrogate in any string."""
    document = json.loads(data.decode("utf-8"))
    for text in _strings(document):
        assert not any("\ud800" <= c <= "\udfff" for c in text), repr(text)
    return document


def assert_xml_safe(data: bytes) -> None:
    """Well-formed XML 1.0: a strict parser reads it."""
    ET.fromstring(data)
    assert_terminal_safe(data.decode("utf-8"))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


_OUR_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "table", "thead"}
_OUR_TAGS |= {"tbody", "tr", "th", "td", "strong", "span", "code", "ol", "ul", "li"}


def assert_html_safe(text: str) -> None:
    """Only the report's own elements, no event handler attributes, nothing hidden."""
    parser = _Tags()
    parser.feed(text)
    for tag, attrs in parser.tags:
        assert tag in _OUR_TAGS, f"<{tag}> injected"
        assert not [name for name, _ in attrs if name.startswith("on")], (tag, attrs)
    assert "<script" not in text.lower()
    assert_terminal_safe(text)


# -- 1. each neutraliser, for each hostile string ---------------------------------
CONSUMERS: dict[str, tuple[str, Callable[[str], None]]] = {
    "terminal": ("visible", assert_terminal_safe),
    "github log": ("github_log_line", assert_github_safe),
    "markdown": ("markdown_text", assert_markdown_safe),
    "html": ("html_text", assert_html_safe),
    "xml": ("xml_text", lambda text: assert_xml_safe(ET.tostring(ET.Element("a", b=text), encoding="utf-8"))),
}


@pytest.mark.parametrize("consumer", sorted(CONSUMERS))
@pytest.mark.parametrize("attack", [*sorted(HOSTILE_STRINGS), "undecodable_file_name"])
def test_attack_each_hostile_string_is_neutralised_for_each_consumer(attack: str, consumer: str) -> None:
    from agentpolicy.report import safe

    hostile = HOSTILE_STRINGS.get(attack, f"agents/bad{UNDECODABLE}.yaml")
    function, check = CONSUMERS[consumer]
    neutral = getattr(safe, function)(hostile)
    if consumer == "github log":
        neutral = safe.visible(neutral)
    check(neutral)
    assert "\n" not in neutral


@pytest.mark.parametrize("attack", [*sorted(HOSTILE_STRINGS), "undecodable_file_name"])
def test_attack_each_hostile_string_is_a_plain_cell_in_csv_and_valid_json(attack: str) -> None:
    from agentpolicy.report import safe

    hostile = HOSTILE_STRINGS.get(attack, f"agents/bad{UNDECODABLE}.yaml")
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        [["a", "b"], [safe.csv_cell(hostile), safe.csv_cell("@" + hostile)]]
    )
    assert_csv_safe(buffer.getvalue())
    serialized = safe.json_text(json.dumps({"value": hostile, hostile: [hostile]}, ensure_ascii=False))
    assert_json_safe(serialized.encode("utf-8"))


@pytest.mark.parametrize(
    "plain",
    ["Anna Nowak", "Żaneta Łukasiewicz", "billing-cycle", "1.4.0-rc.1", "anna.nowak@example.com", "50 %"],
)
def test_ordinary_text_reads_the_same_in_every_format(plain: str) -> None:
    from agentpolicy.report import safe

    for function in (safe.visible, safe.markdown_text, safe.csv_cell, safe.html_text, safe.xml_text):
        assert function(plain) == plain, function.__name__


def test_hidden_characters_are_shown_as_escapes_a_reader_can_see() -> None:
    from agentpolicy.report.safe import visible

    assert visible("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert visible("x\u202ey") == "x\\u202ey"
    assert visible("bad\udcff.yaml") == "bad\\xff.yaml"
    assert visible("one\ntwo") == "one\\ntwo"
    assert visible("\x85\x9b") == "\\x85\\x9b"


def test_a_spreadsheet_formula_gets_the_owasp_prefix() -> None:
    from agentpolicy.report.safe import csv_cell

    assert csv_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert csv_cell("+1") == "'+1" and csv_cell("@SUM(A1)") == "'@SUM(A1)" and csv_cell("-1+2") == "'-1+2"
    assert csv_cell(" =1") == "' =1"
    assert csv_cell("-") == "-"  # the report's own placeholder for "none"


# -- 2. every reporter, fed hostile data directly -------------------------------------
def _hostile_check_result() -> Any:
    from agentpolicy.model.document import Finding
    from agentpolicy.results.check import ChangeSummary, CheckResult

    path = f"agents/{HOSTILE_NAME}{UNDECODABLE}.yaml"
    return CheckResult(
        mode="range",
        findings=[
            Finding(path, 3, 1, "AP201", "error", f"no review by {HOSTILE}", HOSTILE, agent=HOSTILE),
            Finding(path, 4, 2, "ACME1", "warning", HOSTILE, "", agent=HOSTILE, waived=True),
        ],
        files_checked=1,
        changes=[ChangeSummary(HOSTILE, path, ["owner"], HOSTILE, "1.0.0", True, 1, [HOSTILE], "sha256:0")],
        notes=[HOSTILE],
        agents={HOSTILE: path},
    )


def _hostile_audit() -> tuple[Any, Any]:
    from agentpolicy.results.audit import AuditEvent, AuditNote, AuditResult, ReviewerRecord
    from agentpolicy.results.status import AgentStatus

    reviewer = ReviewerRecord(HOSTILE, HOSTILE, "approve", HOSTILE, HOSTILE, "c" * 40, HOSTILE)
    events = [
        AuditEvent(
            agent=HOSTILE,
            event="created",
            kinds=["created"],
            version=HOSTILE,
            digest="sha256:0",
            commit="a" * 40,
            date="2026-01-01T00:00:00+00:00",
            author=HOSTILE,
            path=f"agents/x{UNDECODABLE}.yaml",
            details=[HOSTILE],
            approved=approved,
            reviewers=[reviewer] if approved else [],
        )
        for approved in (True, False)
    ]
    board = [AgentStatus(HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE, True, [HOSTILE], [HOSTILE])]
    return AuditResult(events, [AuditNote("b" * 40, HOSTILE)], 2), board


_CHECK_CHECKS: dict[str, Callable[[bytes], Any]] = {
    "text": lambda out: assert_terminal_safe(out.decode("utf-8")),
    "github": lambda out: assert_github_safe(out.decode("utf-8")),
    "json": assert_json_safe,
    "sarif": assert_json_safe,
    "gitlab": assert_json_safe,
    "junit": assert_xml_safe,
}


@pytest.mark.parametrize("fmt", sorted(_CHECK_CHECKS))
def test_attack_hostile_findings_are_neutralised_in_every_check_format(fmt: str) -> None:
    from agentpolicy.report import render_check

    _CHECK_CHECKS[fmt](render_check(_hostile_check_result(), fmt).encode("utf-8"))


def test_attack_hostile_changes_cannot_break_the_github_job_summary() -> None:
    from agentpolicy.report.github import step_summary

    assert_markdown_safe(step_summary(_hostile_check_result()))


_AUDIT_CHECKS: dict[str, Callable[[bytes], Any]] = {
    "table": lambda out: assert_terminal_safe(out.decode("utf-8")),
    "json": assert_json_safe,
    "csv": lambda out: assert_csv_safe(out.decode("utf-8")),
    "markdown": lambda out: assert_markdown_safe(out.decode("utf-8")),
    "html": lambda out: assert_html_safe(out.decode("utf-8")),
}


@pytest.mark.parametrize("fmt", sorted(_AUDIT_CHECKS))
def test_attack_hostile_history_is_neutralised_in_every_audit_format(fmt: str) -> None:
    from agentpolicy.report.audit_report import render_audit

    result, board = _hostile_audit()
    _AUDIT_CHECKS[fmt](render_audit(result, fmt, board).encode("utf-8"))


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "markdown"])
def test_attack_hostile_agents_are_neutralised_in_every_status_format(fmt: str) -> None:
    from agentpolicy.report.audit_report import render_rows
    from agentpolicy.results.status import STATUS_HEADERS

    _, board = _hostile_audit()
    payload = {"format_version": 1, "agents": [entry.to_json() for entry in board]}
    out = render_rows(STATUS_HEADERS, [entry.row() for entry in board], fmt, payload)
    _AUDIT_CHECKS[fmt](out.encode("utf-8"))


def test_attack_a_hostile_pack_rule_cannot_inject_markdown_into_the_rules_reference() -> None:
    from agentpolicy.report.rules_doc import render
    from agentpolicy.rules import RuleInfo, all_rules

    hostile = RuleInfo("EVIL1", "evil", "warning", HOSTILE, HOSTILE, HOSTILE, HOSTILE)
    built_in = all_rules()
    document = render([*built_in, hostile])
    assert_markdown_safe(document.split("\n## EVIL1")[1])
    assert render(built_in) == (Path(__file__).parent.parent / "docs" / "rules.md").read_text(
        encoding="utf-8"
    )


# -- 3. the real commands on a real repository -------------------------------------
EVIL_RULE = f"""\
id: EVIL101
name: evil
severity: warning
message: {json.dumps(HOSTILE)}
hint: {json.dumps(HOSTILE)}
description: {json.dumps(HOSTILE)}
require: {{required: [x-never-there]}}
"""
EVIL_EXAMPLE_RULE = (
    EVIL_RULE.replace("EVIL101", "EVIL102")
    .replace("warning", "error")
    .replace("require:", "when: {required: [x-evil]}\nrequire:")
)
EVIL_FILE = b"agents/evil\n::error title=file::pwned \x1b[2J\xff.yaml"


def _ap(repo: GitRepo, *args: str, **env: str) -> tuple[int, bytes, bytes]:
    """Run agentpolicy and keep the raw bytes: undecodable output must fail the test, not the run."""
    import subprocess

    from tests.helpers import AGENTPOLICY

    done = subprocess.run(
        [AGENTPOLICY, *args], cwd=repo.path, env={**repo.env, **env}, capture_output=True, timeout=300
    )
    assert done.returncode in (0, 1), (args, done.returncode, done.stdout, done.stderr)
    assert b"Traceback" not in done.stderr and b"internal error" not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


@dataclass
class Hostile:
    repo: GitRepo
    approve_output: str


@pytest.fixture
def hostile_pr(repo: GitRepo, keys: dict[str, Key]) -> Hostile:
    """A pull request whose every printable string is hostile: an owner, a reviewer and a note,
    a commit author, a file name, a pack's rule texts, an invalid agent's name and version."""
    pack = repo.path / "policies" / "evil"
    repo.write("policies/evil/pack.yaml", "name: evil\n")
    repo.write("policies/evil/rules/EVIL101.yaml", EVIL_RULE)
    repo.write("policies/evil/rules/EVIL102.yaml", EVIL_EXAMPLE_RULE)
    repo.write("policies/evil/tests/pass/billing.yaml", BILLING)
    repo.write("policies/evil/tests/pass/evil\x1b[2J\n::error::x.yaml", BILLING + "x-evil: 1\n")
    assert pack.is_dir()
    guarded_repo(repo, keys, config="policy: [policies/evil]\n")
    repo.git("update-ref", "refs/remotes/origin/main", "main")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write(
        "agents/billing-cycle.yaml",
        BILLING.replace("name: Anna Nowak", f"name: {json.dumps(HOSTILE)}").replace("1.4.0", "1.5.0"),
    )
    (repo.path / "agents").joinpath(EVIL_FILE.decode("utf-8", "surrogateescape")[7:]).write_text(
        agent_yaml("evil-file")
    )
    repo.write(
        "agents/weird.yaml",
        agent_yaml("weird", owner=json.dumps(HOSTILE))
        .replace("name: weird", f"name: {json.dumps(HOSTILE)}")
        .replace("version: 1.0.0", f"version: {json.dumps(HOSTILE)}"),
    )
    done = repo.ap(
        "approve",
        "billing-cycle",
        "--reviewer",
        f"{HOSTILE_NAME} <rev@example.com>",
        "--key",
        str(keys["rev"].private),
        "--note",
        HOSTILE,
    )
    assert done.code == 0, done.text
    repo.commit("hostile", author=f"{HOSTILE_AUTHOR} <dev@example.com>")
    return Hostile(repo, done.out + done.err)


@pytest.fixture
def hostile(hostile_pr: Hostile) -> GitRepo:
    return hostile_pr.repo


def test_attack_approve_shows_a_hostile_reviewer_and_note_escaped(hostile_pr: Hostile) -> None:
    assert_terminal_safe(hostile_pr.approve_output)
    assert "by =HYPERLINK(" in hostile_pr.approve_output  # readable, only the hidden parts escaped
    assert "\\x1b[2J" in hostile_pr.approve_output


_COMMAND_CHECKS: dict[tuple[str, ...], Callable[[bytes], Any]] = {
    ("check", "--base", "main"): lambda out: assert_terminal_safe(out.decode("utf-8")),
    ("check", "--base", "main", "--format", "github"): lambda out: assert_github_safe(out.decode("utf-8")),
    ("check", "--base", "main", "--format", "json"): assert_json_safe,
    ("check", "--base", "main", "--format", "sarif"): assert_json_safe,
    ("check", "--base", "main", "--format", "gitlab"): assert_json_safe,
    ("check", "--base", "main", "--format", "junit"): assert_xml_safe,
    ("audit", "--format", "table"): lambda out: assert_terminal_safe(out.decode("utf-8")),
    ("audit", "--format", "json"): assert_json_safe,
    ("audit", "--format", "csv"): lambda out: assert_csv_safe(out.decode("utf-8")),
    ("audit", "--format", "markdown"): lambda out: assert_markdown_safe(out.decode("utf-8")),
    ("audit", "--format", "html"): lambda out: assert_html_safe(out.decode("utf-8")),
    ("status", "--format", "table"): lambda out: assert_terminal_safe(out.decode("utf-8")),
    ("status", "--format", "json"): assert_json_safe,
    ("status", "--format", "csv"): lambda out: assert_csv_safe(out.decode("utf-8")),
    ("status", "--format", "markdown"): lambda out: assert_markdown_safe(out.decode("utf-8")),
    ("rules",): lambda out: assert_terminal_safe(out.decode("utf-8")),
    ("rules", "--format", "json"): assert_json_safe,
    ("test", "policies/evil"): lambda out: assert_terminal_safe(out.decode("utf-8")),
}


def test_attack_hostile_repository_strings_are_neutralised_in_every_command_and_format(
    hostile: GitRepo,
) -> None:
    failures = []
    for args, check in _COMMAND_CHECKS.items():
        _, out, err = _ap(hostile, *args)
        try:
            check(out)
            assert_terminal_safe(err.decode("utf-8"))
        except (AssertionError, ValueError, ET.ParseError) as exc:
            failures.append(f"agentpolicy {' '.join(args)}: {str(exc)[:300]}")
    assert not failures, "\n".join(failures)


def test_attack_hostile_rule_texts_cannot_inject_markdown_into_the_rules_reference(hostile: GitRepo) -> None:
    _, out, _ = _ap(hostile, "rules", "--format", "markdown")
    assert_markdown_safe(out.decode("utf-8").split("\n## EVIL101")[1])


def test_attack_a_reviewer_name_cannot_start_a_workflow_command_under_check_ci(
    hostile: GitRepo, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    code, out, err = _ap(
        hostile,
        "check",
        "--ci",
        GITHUB_ACTIONS="true",
        GITHUB_BASE_REF="main",
        GITHUB_STEP_SUMMARY=str(summary),
    )
    assert code == 1
    assert out.startswith(b"::"), out  # the annotations are there...
    assert_github_safe((out + err).decode("utf-8"))  # ...and nothing else reads as a command
    assert_markdown_safe(summary.read_text(encoding="utf-8"))
    assert "EVIL101" in summary.read_text(encoding="utf-8")


def test_attack_any_format_printed_into_a_github_log_cannot_start_a_command(hostile: GitRepo) -> None:
    """Outside --format github too: a step that runs `audit` or `status` prints into the runner's log."""
    for args in (("check", "--base", "main"), ("audit", "--format", "json"), ("status", "--format", "table")):
        _, out, err = _ap(hostile, *args, GITHUB_ACTIONS="true")
        text = (out + err).decode("utf-8")
        assert "##[" not in text, args
        assert not [line for line in text.split("\n") if line.strip().startswith("::")], args


def test_attack_an_error_message_quoting_repository_text_is_escaped(
    hostile: GitRepo, keys: dict[str, Key]
) -> None:
    hostile.write("agents/billing-cycle.yaml", hostile.read("agents/billing-cycle.yaml") + "x-evil: 1\n")
    on_github = {**hostile.env, "GITHUB_ACTIONS": "true"}
    done = hostile.ap("approve", "billing-cycle", "--key", str(keys["rev"].private), env=on_github)
    assert done.code == 2
    assert "EVIL102" in done.err
    assert_github_safe(done.out + done.err)
