"""`audit` and `status` over real histories: approvals, gaps, later approvals, merges, shallow clones."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import (
    BILLING,
    EXPANDED_BILLING,
    GitRepo,
    Key,
    agent_yaml,
    approve,
    chromium_dom,
    guarded_repo,
)


def audit(repo: GitRepo, *args: str) -> dict:
    done = repo.ap("audit", "--format", "json", *args)
    assert done.code == 0, done.text
    return json.loads(done.out)


def events(repo: GitRepo, *args: str) -> list[tuple[str, str, str | None, bool]]:
    return [(e["agent"], e["event"], e["version"], e["approved"]) for e in audit(repo, *args)["events"]]


@pytest.fixture
def history(repo: GitRepo, keys: dict[str, Key]) -> GitRepo:
    """created (approved), expanded without review (pushed past the hook), a description edit."""
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.commit("expand autonomy", author="Eve Sneaky <eve@example.com>")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING.replace("sends notifications.", "notifies."))
    repo.commit("wording only")
    return repo


def test_audit_lists_each_governed_change_with_its_approval(history: GitRepo) -> None:
    report = audit(history)
    assert [(e["event"], e["version"], e["approved"]) for e in report["events"]] == [
        ("created", "1.4.0", True),
        ("autonomy-expanded", "1.5.0", False),
    ]
    created, expanded = report["events"]
    assert created["reviewers"][0]["email"] == "rev@example.com"
    assert created["reviewers"][0]["signature"] == "valid"
    assert expanded["author"] == "Eve Sneaky <eve@example.com>"
    assert expanded["details"] == ["submit-to-client-portal is now autonomous"]
    assert set(expanded) >= {"agent", "event", "version", "commit", "date", "author", "approved", "reviewers"}
    assert report["summary"] == {"events": 2, "unapproved": 1, "commits_walked": 3}


def test_an_approval_added_later_marks_the_event_approved_later(
    history: GitRepo, keys: dict[str, Key]
) -> None:
    history.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    history.commit("restore wording")
    assert approve(history, keys["rev"]).code == 0
    approving = history.commit("late approval")
    expanded = audit(history)["events"][1]
    assert expanded["approved"] is True
    assert expanded["approved_later_in"] == approving


def test_strict_fails_when_anything_is_unapproved(history: GitRepo) -> None:
    assert history.ap("audit", "--strict", "--format", "json").code == 1
    assert history.ap("audit", "--strict", "--format", "json", "--rev", "HEAD~2").code == 0


def test_filters_by_agent_date_and_approval(history: GitRepo, keys: dict[str, Key]) -> None:
    history.write("agents/pdf.yaml", agent_yaml())
    assert approve(history, keys["rev"], "pdf-extraction").code == 0
    history.commit("pdf agent")
    assert [e[0] for e in events(history, "pdf-extraction")] == ["pdf-extraction"]
    assert events(history, "--unapproved-only") == [("billing-cycle", "autonomy-expanded", "1.5.0", False)]
    assert events(history, "--since", "2999-01-01") == []
    assert len(events(history, "--until", "2999-01-01")) == 3


def test_a_range_walks_only_its_commits(history: GitRepo) -> None:
    report = audit(history, "--rev", "HEAD~2..HEAD")
    assert [e["event"] for e in report["events"]] == ["autonomy-expanded"]


def test_renames_are_not_events_and_deleted_then_recreated_agents_are(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    (repo.path / "agents" / "finance").mkdir()
    repo.git("mv", "agents/billing-cycle.yaml", "agents/finance/billing.yaml")
    repo.commit("move")
    repo.git("rm", "-q", "agents/finance/billing.yaml")
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("retire by deletion")
    repo.write("agents/billing.yaml", BILLING.replace("1.4.0", "2.0.0"))
    repo.commit("re-created")
    assert events(repo) == [
        ("billing-cycle", "created", "1.4.0", True),
        ("billing-cycle", "deleted", "1.4.0", True),
        ("billing-cycle", "created", "2.0.0", False),
    ]


def test_an_approval_deleted_later_is_reported(history: GitRepo) -> None:
    shutil.rmtree(history.path / "reviews")
    commit = history.commit("remove the evidence")
    notes = audit(history)["notes"]
    assert notes[0]["commit"] == commit
    assert "was deleted" in notes[0]["message"]


def test_a_merged_branch_shows_its_change_at_the_merge(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("expand with review")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "--no-edit", "feature")
    merge = repo.git("rev-parse", "HEAD").strip()
    report = audit(repo)
    assert report["events"][1]["commit"] == merge
    assert report["events"][1]["approved"] is True


def test_a_shallow_clone_says_where_history_is_cut(history: GitRepo, tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{history.path}", str(clone)],
        check=True,
        env=history.env,
    )
    shallow = GitRepo.__new__(GitRepo)
    shallow.path, shallow.home, shallow.env = clone, history.home, history.env
    report = audit(shallow)
    assert report["events"] == []
    assert "history is cut here (shallow clone)" in report["notes"][0]["message"]


def test_table_csv_and_markdown_formats(history: GitRepo, tmp_path: Path) -> None:
    table = history.ap("audit", "--format", "table")
    assert table.code == 0
    assert all(len(line) <= 80 for line in table.out.splitlines()), table.out
    assert "UNAPPROVED" in table.out
    rows = list(csv.DictReader(io.StringIO(history.ap("audit", "--format", "csv").out)))
    assert [row["status"] for row in rows] == ["approved", "UNAPPROVED"]
    markdown = history.ap("audit", "--format", "markdown").out
    assert markdown.startswith("# Agent approval audit")
    assert "| **UNAPPROVED** |" in markdown
    out = tmp_path / "audit.json"
    done = history.ap("audit", "--format", "json", "--output", str(out))
    assert done.code == 0
    assert json.loads(out.read_text())["summary"]["unapproved"] == 1


def test_status_shows_each_agent_with_approval_and_open_gaps(history: GitRepo, keys: dict[str, Key]) -> None:
    history.write(
        "agents/pdf.yaml", agent_yaml(stage="pilot").replace("      alert: slack:#extraction\n", "")
    )
    assert approve(history, keys["rev"], "pdf-extraction").code == 0
    history.commit("pilot agent")
    done = history.ap("status", "--format", "json")
    board = {entry["name"]: entry for entry in json.loads(done.out)["agents"]}
    assert board["billing-cycle"]["approved"] is False  # expanded without review
    assert board["pdf-extraction"]["approved"] is True
    assert board["pdf-extraction"]["approvers"] == ["Rev <rev@example.com>"]
    assert board["pdf-extraction"]["gaps"] == ["monitoring"]
    table = history.ap("status", "--format", "table").out
    assert table.splitlines()[1].split()[:3] == ["billing-cycle", "production", "1.5.0"]


def test_audit_never_writes_to_the_repository(history: GitRepo) -> None:
    before = history.git("status", "--porcelain", "--ignored")
    refs = history.git("show-ref")
    history.ap("audit", "--format", "html", "--output", str(history.path.parent / "r.html"))
    history.ap("status", "--format", "json")
    history.ap("check")
    assert history.git("status", "--porcelain", "--ignored") == before
    assert history.git("show-ref") == refs


def test_the_html_report_renders_offline_in_chromium(history: GitRepo, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    report = tmp_path / "report.html"
    assert history.ap("audit", "--format", "html", "--output", str(report)).code == 0
    html = report.read_text()
    assert "http://" not in html and "https://" not in html  # self-contained
    dom = chromium_dom(chromium, report.as_uri(), tmp_path / "profile")
    assert '<tr data-agent="billing-cycle">' in dom
    assert "UNAPPROVED" in dom
    assert "autonomy expanded" in dom and "created" in dom
    assert "Anna Nowak" in dom


def test_all_parents_also_lists_side_branch_changes(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING.replace("1.5.0", "1.4.5"))
    side = repo.commit("intermediate, never reviewed")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("final, reviewed")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "--no-edit", "feature")
    first_parent = audit(repo)["events"]
    assert [(e["version"], e["approved"]) for e in first_parent] == [("1.4.0", True), ("1.5.0", True)]
    everything = audit(repo, "--all-parents")["events"]
    side_events = [e for e in everything if e["side_branch"]]
    assert next((e["commit"], e["version"], e["approved"]) for e in side_events) == (side, "1.4.5", False)
    assert [(e["version"], e["approved"]) for e in side_events][1] == ("1.5.0", True)
