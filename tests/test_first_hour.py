"""Pieces of the first hour (issue 14) that landed early: special files and a --help example."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.helpers import (
    AGENTPOLICY,
    BILLING,
    GitRepo,
    Key,
    agent_yaml,
    approve,
    check_findings,
    clean_env,
    guarded_repo,
    rule_ids,
    run,
)


def test_check_of_a_folder_skips_a_fifo_with_a_note_instead_of_hanging(tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "agents"
    folder.mkdir()
    (folder / "good.yaml").write_text(agent_yaml())
    os.mkfifo(folder / "pipe.yaml")
    done = run([AGENTPOLICY, "check", "--format", "json", "agents"], tmp_path, clean_env(home))
    assert done.code == 0, done.text
    report = json.loads(done.out)
    assert report["summary"]["files_checked"] == 1
    assert any("pipe.yaml" in note and "not a regular file" in note for note in report["notes"])
    text = run([AGENTPOLICY, "check", "agents"], tmp_path, clean_env(home))
    assert text.code == 0 and "pipe.yaml" in text.text


def test_check_of_a_named_fifo_is_an_error_not_a_hang(tmp_path: Path, home: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    done = run([AGENTPOLICY, "check", "--format", "json", "pipe.yaml"], tmp_path, clean_env(home))
    assert done.code == 1, done.text
    assert [f["rule"] for f in json.loads(done.out)["findings"]] == ["AP001"]


def test_the_audit_help_example_for_html_runs_as_written(repo: GitRepo) -> None:
    repo.write("agents/pdf.yaml", agent_yaml())
    repo.commit("pdf agent")
    helped = repo.ap("audit", "--help")
    example = next(line.strip() for line in helped.out.splitlines() if "--format html" in line)
    done = repo.ap(*example.split()[1:])
    assert done.code == 0, done.text
    assert (repo.path / "report.html").read_text().lstrip().lower().startswith("<!doctype html")


def test_audit_of_an_unknown_agent_is_a_usage_error(repo: GitRepo) -> None:
    repo.write("agents/pdf.yaml", agent_yaml())
    repo.commit("pdf agent")
    done = repo.ap("audit", "--format", "json", "pdf-extractoin")
    assert done.code == 2, done.text
    assert "no agent named 'pdf-extractoin'" in done.err and "agentpolicy status" in done.err
    assert repo.ap("audit", "--format", "json", "pdf-extraction").code == 0


def _review_round(repo: GitRepo, keys: dict[str, Key], version: str, reviewer: str) -> None:
    repo.write("agents/billing-cycle.yaml", BILLING.replace("version: 1.4.0 ", f"version: {version} "))
    assert approve(repo, keys[reviewer]).code == 0
    repo.commit(f"billing {version}")


def test_an_entry_for_content_superseded_in_the_same_pull_request_is_a_warning(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.git("checkout", "-q", "-b", "topic")
    _review_round(repo, keys, "1.4.1", "rev")  # reviewed, then the author pushed another round
    _review_round(repo, keys, "1.4.2", "rev2")
    code, found = check_findings(repo, "--base", "main")
    assert code == 0, found
    stale = [f for f in found if f["rule"] == "AP206"]
    assert [f["severity"] for f in stale] == ["warning"], found
    assert "/1.4.1/" in stale[0]["file"] and "stays only as a record" in stale[0]["message"]


def test_an_entry_for_superseded_content_is_still_an_error_while_the_change_is_unapproved(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.git("checkout", "-q", "-b", "topic")
    _review_round(repo, keys, "1.4.1", "rev")
    repo.write("agents/billing-cycle.yaml", BILLING.replace("version: 1.4.0 ", "version: 1.4.2 "))
    repo.commit("billing 1.4.2, not reviewed")
    code, found = check_findings(repo, "--base", "main")
    assert code == 1
    assert {"AP201", "AP206"} <= rule_ids(found)
    assert all(f["severity"] == "error" for f in found if f["rule"] == "AP206"), found
