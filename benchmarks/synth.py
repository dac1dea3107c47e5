"""Deterministic synthetic repositories for the benchmarks, written with `git fast-import`."""

from __future__ import annotations

import datetime as dt
import random
import subprocess
from pathlib import Path

AGENT = """\
apiVersion: agentpolicy/v1
kind: Agent
name: {name}
version: {major}.{minor}.0
stage: production
description: Synthetic agent number {index} for benchmarks.
owner:
  name: Owner {index}
  email: owner{index}@example.com
autonomy:
  autonomous:
    - action: read-input
    - action: draft-output-{minor}
  requires_confirmation:
    - action: publish
      irreversible: true
monitoring:
  signals:
    - name: drift
      detects: Output differs from the baseline by more than {minor}%.
      alert: pagerduty:agents
undo:
  rollback: Redeploy the previous release.
change_control:
  approvals_required: 1
"""


def agent_text(index: int, minor: int = 0) -> str:
    return AGENT.format(name=f"agent-{index:05d}", index=index, major=1, minor=minor)


def _blob(lines: list[bytes], path: str, text: str) -> None:
    data = text.encode()
    lines.append(f"M 100644 inline {path}\n".encode())
    lines.append(f"data {len(data)}\n".encode() + data + b"\n")


def make_repo(path: Path, agents: int, commits: int, seed: int = 7) -> Path:
    """A repository whose first commit adds `agents` agents; each later commit changes 1-2 of them
    (75%) or another file (25%)."""
    rng = random.Random(seed)
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    stream: list[bytes] = []
    minors = [0] * agents
    when = 1_700_000_000
    for number in range(commits):
        when += 60
        stream.append(b"commit refs/heads/main\n")
        stream.append(f"committer Bench <bench@example.com> {when} +0000\n".encode())
        message = f"commit {number}".encode()
        stream.append(f"data {len(message)}\n".encode() + message + b"\n")
        if number == 0:
            _blob(stream, ".agentpolicy.yaml", "require_signatures: false\n")
            for index in range(agents):
                _blob(stream, f"agents/agent-{index:05d}.yaml", agent_text(index))
        elif rng.random() < 0.75:
            for index in rng.sample(range(agents), rng.choice((1, 2))):
                minors[index] += 1
                _blob(stream, f"agents/agent-{index:05d}.yaml", agent_text(index, minors[index]))
        else:
            _blob(stream, "README.md", f"revision {number}\n")
        stream.append(b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], input=b"".join(stream), cwd=path, check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=path, check=True)
    return path


def _entry_text(index: int, digest: str, reviewer: int) -> str:
    when = dt.datetime(2023, 11, 14, tzinfo=dt.UTC) + dt.timedelta(seconds=2 * index + reviewer)
    return (
        "apiVersion: agentpolicy/v1\nkind: Review\n"
        f"agent: agent-{index:05d}\nversion: 1.0.0\ndigest: '{digest}'\ndecision: approve\n"
        f"reviewer:\n  name: Reviewer {reviewer}\n  email: reviewer{reviewer}@example.com\n"
        f"timestamp: '{when:%Y-%m-%dT%H:%M:%SZ}'\n"
    )


def make_wide_repo(path: Path, agents: int) -> Path:
    """A repository of one commit that adds `agents` agents and two review entries for each
    (`require_signatures: false`, so no signing): the case a judge that scans every entry for every
    event makes quadratic."""
    import yaml

    from agentpolicy.model.digest import agent_digest

    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    stream = [b"commit refs/heads/main\n", b"committer Bench <bench@example.com> 1700000000 +0000\n"]
    stream.append(b"data 4\nwide\n")
    _blob(stream, ".agentpolicy.yaml", "require_signatures: false\n")
    for index in range(agents):
        text = agent_text(index)
        _blob(stream, f"agents/agent-{index:05d}.yaml", text)
        digest = agent_digest(yaml.safe_load(text))
        for reviewer in (1, 2):
            entry = f"reviews/agent-{index:05d}/1.0.0/r{reviewer}.yaml"
            _blob(stream, entry, _entry_text(index, digest, reviewer))
    stream.append(b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], input=b"".join(stream), cwd=path, check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=path, check=True)
    return path
