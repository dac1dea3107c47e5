"""The audit sees what it cannot read (issue 15).

An agent file that the strict loader refuses (a duplicate key, a YAML error, over
the size limit, no agent name) can be committed with `--no-verify`; a lenient
deploy tool may still read it as an agent. The audit is the backstop for
`--no-verify`, so such a file is an `unreadable` event that is never approved,
and `status` shows it as a row instead of leaving it out.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import BILLING, GitRepo, Key, agent_yaml, guarded_repo, strict_audit

BROKEN = {
    "duplicate-key": BILLING.replace("stage: production", "stage: production\nstage: pilot", 1),
    "yaml-error": "name: [unclosed\n",
    "too-large": agent_yaml(name="huge") + "# " + "x" * (1024 * 1024 + 10) + "\n",
    "no-name": "apiVersion: agentpolicy/v1\nkind: Agent\nversion: 1.0.0\n",
    "not-a-mapping": "- just\n- a list\n",
}


def events(repo: GitRepo) -> list[dict]:
    done = repo.ap("audit", "--format", "json")
    assert done.code == 0, done.text
    return json.loads(done.out)["events"]


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_new_unreadable_agent_file_is_an_unapproved_event(
    kind: str, repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    assert strict_audit(repo) == 0
    repo.write("agents/broken.yaml", BROKEN[kind])
    repo.commit("pushed past the hook")
    found = [e for e in events(repo) if e["event"] == "unreadable"]
    assert len(found) == 1, events(repo)
    assert found[0]["file"] == "agents/broken.yaml" and found[0]["approved"] is False
    assert found[0]["details"] and found[0]["details"][0], found[0]
    assert strict_audit(repo) == 1
    board = json.loads(repo.ap("status", "--format", "json").out)["agents"]
    row = next(r for r in board if r["path"] == "agents/broken.yaml")
    assert row["approved"] is False and row["errors"] >= 1
    assert any("unreadable" in gap for gap in row["gaps"]), row


def test_an_approved_agent_that_breaks_is_unreadable_not_deleted(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", BROKEN["duplicate-key"])
    repo.commit("a lenient tool reads stage: pilot")
    latest = events(repo)[-1]
    assert (latest["event"], latest["agent"], latest["approved"]) == ("unreadable", "billing-cycle", False)
    assert not any(e["event"] == "deleted" for e in events(repo))
    assert strict_audit(repo) == 1
    repo.write("agents/billing-cycle.yaml", BILLING)  # repaired to the approved content: no new change
    repo.commit("repair")
    assert [e["event"] for e in events(repo)] == ["created", "unreadable"]
    board = json.loads(repo.ap("status", "--format", "json").out)["agents"]
    assert [(r["name"], r["approved"]) for r in board] == [("billing-cycle", True)]


def test_an_unreadable_file_unchanged_for_many_commits_is_one_event(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/broken.yaml", BROKEN["yaml-error"])
    repo.commit("broken")
    for index in range(3):
        repo.write(f"notes-{index}.txt", "x\n")
        repo.commit(f"unrelated {index}")
    assert [e["event"] for e in events(repo)].count("unreadable") == 1
