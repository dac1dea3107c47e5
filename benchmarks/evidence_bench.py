"""Evidence bundle speed: `agentpolicy evidence` on 10,000 commits carrying 2,000 signed review entries.

Usage: python benchmarks/evidence_bench.py [--commits N] [--entries N] [--agents N] [--runs N]

The history is synthetic and deterministic (``git fast-import``): the first commit adds the
agents, an allowed-signers file and a signed approval for each; each later commit changes one
agent (approved with a signed entry, until ``--entries`` are written) or a README. Entries are
signed by ssh-keygen with a throwaway key. Prints the time to write the bundle (cold and warm
derived-data cache), next to `audit --format json`, and the time `sh verify.sh` takes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import agent_text
from timing import compare, run_once, spread_report, table

from agentpolicy.app.approve import dump_entry
from agentpolicy.model.digest import agent_digest
from agentpolicy.model.yamlload import load_yaml
from agentpolicy.review.entries import entry_path, signed_payload
from agentpolicy.review.signing import sign

AGENTPOLICY = str(Path(sys.executable).with_name("agentpolicy"))


def _entry(key: Path, agent_file: str, when: int) -> tuple[str, bytes]:
    data = load_yaml("a.yaml", agent_file.encode()).document.data  # type: ignore[union-attr]
    stamp = dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry = {
        "apiVersion": "agentpolicy/v1",
        "kind": "Review",
        "agent": data["name"],
        "version": data["version"],
        "digest": agent_digest(data),
        "decision": "approve",
        "reviewer": {"name": "Rita Reviewer", "email": "rev@example.com"},
        "timestamp": stamp,
    }
    entry["signature"] = sign(signed_payload(entry), str(key))
    path = entry_path("reviews", data["name"], data["version"], "rev@example.com", stamp)
    return path, dump_entry(entry).encode()


def _file(stream: list[bytes], path: str, data: bytes) -> None:
    stream.append(f"M 100644 inline {path}\n".encode())
    stream.append(f"data {len(data)}\n".encode() + data + b"\n")


def make_history(path: Path, key: Path, agents: int, commits: int, entries: int) -> None:
    import random

    rng = random.Random(7)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    public = key.with_suffix(".pub").read_text().strip()
    stream: list[bytes] = []
    minors = [0] * agents
    written = 0
    when = 1_700_000_000
    for number in range(commits):
        when += 60
        stream.append(b"commit refs/heads/main\n")
        stream.append(f"committer Bench <bench@example.com> {when} +0000\n".encode())
        message = f"commit {number}".encode()
        stream.append(f"data {len(message)}\n".encode() + message + b"\n")
        if number == 0:
            signers = f'rev@example.com namespaces="agentpolicy-review" {public}\n'.encode()
            _file(stream, ".agentpolicy/allowed_signers", signers)
            for index in range(agents):
                text = agent_text(index)
                _file(stream, f"agents/agent-{index:05d}.yaml", text.encode())
                if written < entries:
                    _file(stream, *_entry(key, text, when))
                    written += 1
        elif rng.random() < 0.75:
            index = rng.randrange(agents)
            minors[index] += 1
            text = agent_text(index, minors[index])
            _file(stream, f"agents/agent-{index:05d}.yaml", text.encode())
            if written < entries:
                _file(stream, *_entry(key, text, when))
                written += 1
        else:
            _file(stream, "README.md", f"revision {number}\n".encode())
        stream.append(b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], input=b"".join(stream), cwd=path, check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=path, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=2_000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="agentpolicy-evidence-bench-"))
    try:
        key = folder / "rev"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        repo = folder / "repo"
        make_history(repo, key, args.agents, args.commits, args.entries)
        out = folder / "bundles"
        out.mkdir()
        cold, cold_peak = run_once([AGENTPOLICY, "evidence", "--output", str(out / "cold")], str(repo))
        results = compare(
            {
                "agentpolicy audit --format json": [AGENTPOLICY, "audit", "--format", "json"],
                "agentpolicy evidence --output DIR": [
                    "sh",
                    "-c",
                    'exec "$0" evidence --output "$1/warm-$$"',
                    AGENTPOLICY,
                    str(out),
                ],
            },
            str(repo),
            runs=args.runs,
        )
        verify, verify_peak = run_once(["sh", str(out / "cold" / "verify.sh")], str(folder))
        audit = results["agentpolicy audit --format json"][0]
        rows = [(name, sec, peak, f"{sec / audit:.2f}x audit") for name, (sec, peak) in results.items()]
        first = "agentpolicy evidence, first run (empty cache)"
        rows.append((first, cold, cold_peak, f"{cold / audit:.2f}x audit"))
        rows.append(("sh verify.sh (cold bundle)", verify, verify_peak, ""))
        files = sum(1 for p in (out / "cold").rglob("*") if p.is_file())
        print(
            f"{args.commits} commits, {args.entries} signed entries, {args.agents} agents; bundle of {files} "
            f"files; median of {args.runs} alternating runs; target: evidence < 30 s on 2 cores"
        )
        print(table(rows))
        print(spread_report())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
