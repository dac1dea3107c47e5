"""Conformance speed and memory: `agentpolicy conformance` on 1,000,000 JSON Lines events.

Builds a small guarded repository (three agents, each approved, then expanded by an
approved change at a known time), writes a log of N events spread over that history
(mostly conforming, about 2% findings of every kind), and times the real command.
A second, ten times smaller log shows that peak memory does not grow with the events.

Usage: python benchmarks/conformance_bench.py [--events N] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import run_once, table

AGENTPOLICY = str(Path(sys.executable).with_name("agentpolicy"))
AGENTS = ("billing-cycle", "pdf-extraction", "invoice-triage")
DAY = "2030-01-{:02d}T{:02d}:{:02d}:00Z"

AGENT = """\
apiVersion: agentpolicy/v1
kind: Agent
name: {name}
version: {version}
stage: production
owner: {{name: Anna Nowak, email: anna.nowak@example.com}}
autonomy:
  autonomous:
    - action: read-input
{extra}  requires_confirmation:
    - action: publish-result
      irreversible: true
monitoring:
  signals: [{{name: drift, detects: Totals drift more than 5%., alert: pagerduty:oncall}}]
undo: {{rollback: Redeploy the previous release., human_checkpoint: A person confirms each publication.}}
change_control: {{approvals_required: 1, process: Pull request plus a signed review entry.}}
"""


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def make_repo(folder: Path) -> Path:
    """Each agent approved on 2030-01-01, then given `write-output` alone by 1.1.0, approved 2030-01-15."""
    repo, key = folder / "repo", folder / "reviewer"
    repo.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    git(repo, "init", "-q", "-b", "main")
    for setting, value in (
        ("user.name", "Dev"),
        ("user.email", "dev@example.com"),
        ("commit.gpgsign", "false"),
    ):
        git(repo, "config", setting, value)
    signer = (
        f'rev@example.com namespaces="agentpolicy-review" {key.with_suffix(".pub").read_text().strip()}\n'
    )
    (repo / ".agentpolicy").mkdir()
    (repo / ".agentpolicy" / "allowed_signers").write_text(signer)
    (repo / "agents").mkdir()
    for version, extra, day in (("1.0.0", "", 1), ("1.1.0", "    - action: write-output\n", 15)):
        for name in AGENTS:
            (repo / "agents" / f"{name}.yaml").write_text(
                AGENT.format(name=name, version=version, extra=extra)
            )
            subprocess.run(
                [AGENTPOLICY, "approve", name, "--reviewer", "Rev <rev@example.com>", "--key", str(key)],
                cwd=repo,
                check=True,
                capture_output=True,
            )
        when = DAY.format(day, 0, 0)
        git(repo, "add", "-A")
        dated = {**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when}
        git(repo, "commit", "-q", "--no-verify", "-m", f"agents {version}", env=dated)
    return repo


def write_log(path: Path, events: int, seed: int = 18) -> None:
    """Events over 2030-01-02 .. 2030-01-28; about 2% are findings (unknown action, no confirmation,
    write-output before its expansion, unknown agent, an unreadable line)."""
    chooser = random.Random(seed)
    with path.open("w", encoding="utf-8") as log:
        for _ in range(events):
            day, hour, minute = chooser.randint(2, 28), chooser.randint(0, 23), chooser.randint(0, 59)
            event = {
                "time": DAY.format(day, hour, minute),
                "agent": chooser.choice(AGENTS),
                "action": "read-input",
            }
            roll = chooser.random()
            if roll < 0.30:
                event.update(action="publish-result", confirmed_by="Anna Nowak")
            elif roll < 0.60:
                if day >= 15:
                    event.update(action="write-output", version="1.1.0")
            elif roll < 0.605:
                event.update(action="delete-everything")
            elif roll < 0.61:
                event.update(action="publish-result")
            elif roll < 0.615 and day < 15:
                event.update(action="write-output")
            elif roll < 0.62:
                event.update(agent="ghost")
            elif roll < 0.6205:
                log.write("{not json\n")
                continue
            log.write(json.dumps(event) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="agentpolicy-conformance-bench-"))
    try:
        repo = make_repo(folder)
        rows = []
        for events in (args.events // 10, args.events):
            log = folder / f"events-{events}.jsonl"
            write_log(log, events)
            command = [
                AGENTPOLICY,
                "conformance",
                str(log),
                "--format",
                "json",
                "--output-to",
                f"text={folder}/t",
            ]
            runs = [run_once(command, str(repo)) for _ in range(args.runs)]
            seconds, peak = sorted(runs)[len(runs) // 2]
            size = log.stat().st_size / 1024 / 1024
            rows.append((f"conformance, {events:,} events ({size:.0f} MB of JSON Lines)", seconds, peak, ""))
        small, large = rows
        rows[1] = (*large[:3], f"{large[1] / small[1]:.1f}x time, {large[2] / small[2]:.2f}x memory")
        print(f"{os.cpu_count()} cores; median of {args.runs} run(s); target: 1,000,000 events in < 60 s")
        print(table(rows))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
