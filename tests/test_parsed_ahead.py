"""YAML parsed ahead by a helper process (issue 20): a big commit, or status over a big tree, is
parsed on both cores, and nothing a user sees may change: not a verdict, not a finding, not a
refusal of a hostile file. The helper hands over only the fast path's data for a blob id."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import shutil
import time
from typing import Any

import pytest

from agentpolicy.app.audit import AuditRequest, run_audit
from agentpolicy.app.status import run_status
from agentpolicy.cache import parsed_ahead
from agentpolicy.cache.parsed_ahead import ParsedAhead
from agentpolicy.model.digest import agent_digest
from agentpolicy.model.yamlload import NOT_PARSED, fast_data
from agentpolicy.report.audit_report import render_audit
from tests.helpers import GitRepo, agent_yaml

HOSTILE_AGENTS = {
    "agents/dup.yaml": "name: dup\nname: twice\n",
    "agents/alias.yaml": "base: &b {k: 1}\nname: alias\nother: *b\n",
    "agents/latin1.yaml": b"name: caf\xe9\n",
    "agents/nan.yaml": agent_yaml(name="nan-agent") + "extra: .nan\n",
    "agents/tagged.yaml": "name: !!python/name:os.system tagged\n",
    "agents/stamp.yaml": agent_yaml(name="stamp").replace('version: "1.4.0"', "version: 2024-01-01"),
    "agents/deep.yaml": "name: deep\nx: " + "[" * 70 + "]" * 70 + "\n",
}


def _entry(agent: str, version: str, digest: str, reviewer: int) -> str:
    return (
        "apiVersion: agentpolicy/v1\nkind: Review\n"
        f"agent: {agent}\nversion: '{version}'\ndigest: '{digest}'\ndecision: approve\n"
        f"reviewer:\n  name: Reviewer {reviewer}\n  email: r{reviewer}@example.com\n"
        f"timestamp: '2024-05-0{reviewer}T10:00:00Z'\n"
    )


@pytest.fixture
def wide(repo: GitRepo) -> GitRepo:
    """One commit: 40 agents, two unsigned entries each, hostile agent files and hostile entries."""
    import yaml

    repo.write(".agentpolicy.yaml", "require_signatures: false\n")
    for index in range(40):
        text = agent_yaml(name=f"agent-{index:02d}", owner=f"Owner {index}")
        repo.write(f"agents/agent-{index:02d}.yaml", text)
        digest = agent_digest(yaml.safe_load(text))
        version = str(yaml.safe_load(text)["version"])
        for reviewer in (1, 2):
            entry = _entry(f"agent-{index:02d}", version, digest, reviewer)
            repo.write(f"reviews/agent-{index:02d}/{version}/r{reviewer}.yaml", entry)
    for path, text in HOSTILE_AGENTS.items():
        repo.write(path, text)
    repo.write("reviews/agent-00/x/alias.yaml", "a: &x 1\nagent: *x\n")
    repo.write("reviews/agent-01/x/dup.yaml", _entry("agent-01", "1.4.0", "sha256:" + "0" * 64, 3) * 2)
    os.symlink("agent-00.yaml", repo.path / "agents" / "link.yaml")
    repo.commit("a wide commit", author="Ann Author <ann@example.com>")
    return repo


def _helper_forced(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every file waits for the helper's answer; the list records, per file, whether it came."""
    taken: list[bool] = []
    original = ParsedAhead.take

    def counted(self: ParsedAhead, blob: str) -> Any:
        answer = original(self, blob)
        taken.append(answer is not None)
        return answer

    monkeypatch.setattr(parsed_ahead, "WAIT_FOR_HELPER", 30.0)
    monkeypatch.setattr(ParsedAhead, "take", counted)
    return taken


def _everything(repo: GitRepo) -> tuple[str, list[Any]]:
    """The audit and status, each from an empty derived cache (so every file is parsed)."""
    shutil.rmtree(repo.path / ".git" / "agentpolicy", ignore_errors=True)
    audit = render_audit(run_audit(AuditRequest(start=str(repo.path))), "json")
    shutil.rmtree(repo.path / ".git" / "agentpolicy", ignore_errors=True)
    board = [dataclasses.asdict(row) for row in run_status(str(repo.path))]
    return audit, board


def test_a_wide_commit_reads_the_same_with_the_helper_as_without(
    wide: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = _everything(wide)
    taken = _helper_forced(monkeypatch)

    monkeypatch.setattr(parsed_ahead, "MIN_BATCH", 1)
    helped = _everything(wide)
    # the entries twice (the audit, and status's own), the agents at least once: all asked, and
    # the helper answered most (not the hostile files, which this process refuses itself)
    assert len(taken) >= 2 * 40 * 2 + 40, len(taken)
    assert sum(taken) >= 2 * 40 * 2, sum(taken)
    assert helped == alone
    assert '"unapproved": 0' not in alone[0]  # the hostile files are refused, with the helper too
    assert not multiprocessing.active_children()  # no helper left behind


def test_the_helper_gives_exactly_what_the_fast_path_makes_of_each_blob(wide: GitRepo) -> None:
    import pygit2

    git = pygit2.Repository(str(wide.path))
    blobs = {}
    for path in [*HOSTILE_AGENTS, "agents/agent-03.yaml", "reviews/agent-00/x/alias.yaml"]:
        blob = git.revparse_single(f"HEAD:{path}")
        blobs[str(blob.id)] = blob.data
    parseable = [blob for blob, raw in blobs.items() if fast_data(raw) is not NOT_PARSED]
    ahead = ParsedAhead(git.path, min_batch=1)
    try:
        ahead.submit(blobs)
        first = None
        deadline = time.monotonic() + 60
        while first is None and time.monotonic() < deadline:
            time.sleep(0.02)
            first = ahead.take(parseable[0])
        # fewer blobs than one chunk: the helper's answers for all of them arrived together
        results = {blob: ahead.take(blob) for blob in blobs if blob != parseable[0]}
        results[parseable[0]] = first
    finally:
        ahead.close()
    for blob, raw in blobs.items():
        answer = results[blob]
        assert (answer.data if answer else NOT_PARSED) == fast_data(raw)
        assert answer is not None or blob not in parseable
        if answer is not None and isinstance(answer.data, dict) and "kind" not in answer.data:
            assert answer.digest == agent_digest(answer.data)
    refused = [blob for blob, raw in blobs.items() if fast_data(raw) is NOT_PARSED]
    assert len(refused) >= 5  # duplicate key, aliases, bad UTF-8, NaN, tag, depth: left to this process


def test_a_helper_that_cannot_start_costs_nothing_but_time(
    wide: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = _everything(wide)

    def no_processes(*args: Any, **kwargs: Any) -> Any:
        raise OSError("no processes here")

    monkeypatch.setattr(parsed_ahead, "MIN_BATCH", 1)
    monkeypatch.setattr(multiprocessing, "get_context", no_processes)
    assert _everything(wide) == alone


def test_a_long_history_reads_the_same_with_a_helper_walking_ahead(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``FOLLOW_AFTER`` commits a helper walks the rest of the history and parses each new
    blob before the audit reaches it: agents, entries, hostile files, renames, deletions."""
    import yaml

    repo.write(".agentpolicy.yaml", "require_signatures: false\n")
    repo.commit("config")
    for number in range(12):
        name = f"agent-{number % 4}"
        text = agent_yaml(name=name, owner=f"Owner {number}")
        repo.write(f"agents/{name}.yaml", text)
        if number % 3 != 2:  # every third change is never approved
            data = yaml.safe_load(text)
            entry = _entry(name, str(data["version"]), agent_digest(data), 1 + number % 2)
            repo.write(f"reviews/{name}/{data['version']}/n{number}.yaml", entry)
        if number == 6:
            repo.write("agents/dup.yaml", HOSTILE_AGENTS["agents/dup.yaml"])
            (repo.path / "agents" / "agent-3.yaml").unlink()
        if number == 8:
            (repo.path / "agents" / "agent-2.yaml").rename(repo.path / "agents" / "moved.yaml")
        repo.commit(f"change {number}", author=f"Author {number % 3} <a{number % 3}@example.com>")
    alone = _everything(repo)
    taken = _helper_forced(monkeypatch)

    monkeypatch.setattr(parsed_ahead, "FOLLOW_AFTER", 3)
    assert _everything(repo) == alone
    assert sum(taken) >= 10, taken  # the helper answered files the walk reached after commit 3
    assert not multiprocessing.active_children()


def test_inventory_workers_start_no_helper_of_their_own(
    wide: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inventory's workers already use every core: one YAML helper each would only add
    processes. Their set-up turns helpers off, and the results do not change."""
    from agentpolicy.inventory.scan import worker_setup

    alone = _everything(wide)
    monkeypatch.setattr(parsed_ahead, "HELPERS_ALLOWED", True)  # restored after the test
    monkeypatch.setattr(parsed_ahead, "MIN_BATCH", 1)
    monkeypatch.setenv("GIT_DIR", str(wide.path / ".git"))  # worker_setup drops git's variables
    worker_setup()
    assert parsed_ahead.HELPERS_ALLOWED is False
    started: list[bool] = []
    original = ParsedAhead._started

    def spied(self: ParsedAhead) -> bool:
        started.append(original(self))
        return started[-1]

    monkeypatch.setattr(ParsedAhead, "_started", spied)
    assert _everything(wide) == alone
    assert started and not any(started)
    assert not multiprocessing.active_children()
