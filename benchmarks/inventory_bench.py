"""The fleet view's speed: `agentpolicy inventory` over 500 repositories of 40 agents each.

Usage: python benchmarks/inventory_bench.py [--repos 500] [--agents 40] [--commits 4] [--changed 5]
                                             [--jobs N] [--db URL] [--keep]

Builds the fleet deterministically (bare repositories written with `git fast-import`; every
agent approved by a signed review entry in its first commit; later commits change one or two
agents each, four in five of them with a signed approval, the rest without one), then times,
as a user runs it (`--from LIST --format json > /dev/null`):

  1. the first run, from cold (a new database, no derived cache in any repository);
  2. a second run with nothing changed (every repository skipped);
  3. a run after `--changed` repositories got a new commit.

Peak memory is the largest sum of the proportional set sizes of the whole process tree (the
command, the fork server and its workers), sampled every 20 ms; and the command's own peak
resident memory (from wait4: the workers are the fork server's children, not its).
Targets (issue 19): cold < 60 s on 2 cores, after 5 changes < 5 s, peak < 300 MB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_signatures import sign
from synth import agent_text

from agentpolicy.app.approve import dump_entry
from agentpolicy.model.digest import agent_digest
from agentpolicy.review.entries import entry_path, signed_payload

AGENTPOLICY = str(Path(sys.executable).with_name("agentpolicy"))
REVIEWER = ("Rita Reviewer", "rita@example.com")
AUTHOR = "Bench Author <author@example.com>"
START = 1_767_225_600  # 2026-01-01T00:00:00Z


class Signer:
    def __init__(self) -> None:
        self.key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
        blob = self.key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
        self.public_line = blob
        self.allowed = f'{REVIEWER[1]} namespaces="agentpolicy-review" {blob}\n'

    def entry(self, text: str, when: int) -> tuple[str, str]:
        """(path, text) of a signed approval of the agent `text`, timestamped `when`."""
        data = yaml.safe_load(text)
        stamp = dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        entry = {
            "apiVersion": "agentpolicy/v1",
            "kind": "Review",
            "agent": data["name"],
            "version": data["version"],
            "digest": agent_digest(data),
            "decision": "approve",
            "reviewer": {"name": REVIEWER[0], "email": REVIEWER[1]},
            "timestamp": stamp,
        }
        entry["signature"] = sign(self.key, self.public_line, signed_payload(entry))
        return entry_path("reviews", data["name"], data["version"], REVIEWER[1], stamp), dump_entry(entry)


def _blob(stream: list[bytes], path: str, text: str) -> None:
    data = text.encode()
    stream.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")


def _commit(stream: list[bytes], when: int, message: str, files: dict[str, str], continues: bool) -> None:
    """A commit on main; `continues`: main already exists in the repository (a later import)."""
    name, email = AUTHOR.split(" <")
    stream.append(b"commit refs/heads/main\n")
    stream.append(f"author {name} <{email} {when} +0000\ncommitter {name} <{email} {when} +0000\n".encode())
    stream.append(f"data {len(message)}\n{message}\n".encode())
    if continues:
        stream.append(b"from refs/heads/main^0\n")
    for path, text in files.items():
        _blob(stream, path, text)
    stream.append(b"\n")


def _import(path: Path, stream: list[bytes]) -> None:
    subprocess.run(["git", "fast-import", "--quiet"], input=b"".join(stream), cwd=path, check=True)


def make_repository(path: Path, number: int, agents: int, commits: int, signer: Signer) -> None:
    rng = random.Random(number)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    stream: list[bytes] = []
    base = number * agents
    when = START + number * 3600
    files = {".agentpolicy/allowed_signers": signer.allowed}
    for index in range(agents):
        text = agent_text(base + index)
        files[f"agents/agent-{base + index:05d}.yaml"] = text
        files.update([signer.entry(text, when - 60)])
    _commit(stream, when, "agents, approved", files, continues=False)
    minors = [0] * agents
    for step in range(1, commits):
        when += 600
        files = {}
        for index in rng.sample(range(agents), rng.choice((1, 2))):
            minors[index] += 1
            text = agent_text(base + index, minors[index])
            files[f"agents/agent-{base + index:05d}.yaml"] = text
            if rng.random() < 0.8:
                files.update([signer.entry(text, when - 60)])
        _commit(stream, when, f"change {step}", files, continues=False)
    _import(path, stream)


def change_repository(path: Path, number: int, agents: int, signer: Signer) -> None:
    """One more commit: agent 0 of this repository gets a new, approved version."""
    when = int(time.time()) - 30
    text = agent_text(number * agents, 50)
    files = {f"agents/agent-{number * agents:05d}.yaml": text}
    files.update([signer.entry(text, when - 5)])
    stream: list[bytes] = []
    _commit(stream, when, "later change", files, continues=True)
    _import(path, stream)


def _tree_memory(root: int) -> int:
    """Memory of `root` and all its descendants, now: the sum of their proportional set sizes (a page
    shared by n processes counts 1/n in each, so shared libraries are not counted once per worker)."""
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    pending += [int(child) for child in children.read().split()]
        except (OSError, ValueError):
            continue
    return total


def timed(command: list[str], cwd: Path) -> tuple[float, float, float]:
    """Seconds, peak MB of the whole process tree, peak resident MB of the command itself."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=devnull, stderr=subprocess.PIPE)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_memory(process.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    error = process.stderr.read().decode(errors="replace") if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{error}")
    print("   ", error.strip().splitlines()[-1] if error.strip() else "")
    return elapsed, peak[0] / 2**20, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=500)
    parser.add_argument("--agents", type=int, default=40)
    parser.add_argument("--commits", type=int, default=4)
    parser.add_argument("--changed", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--db", default=None, help="a PostgreSQL URL (default: a new SQLite file)")
    parser.add_argument("--keep", action="store_true", help="keep the fleet and print where it is")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="agentpolicy-inventory-bench-"))
    try:
        signer = Signer()
        began = time.perf_counter()
        paths = []
        for number in range(args.repos):
            path = folder / "fleet" / f"service-{number:04d}.git"
            make_repository(path, number, args.agents, args.commits, signer)
            paths.append(path)
        listing = folder / "repositories.txt"
        listing.write_text("".join(f"{path}\n" for path in paths))
        print(
            f"fleet: {args.repos} repositories x {args.agents} agents, {args.commits} commits each, "
            f"built in {time.perf_counter() - began:.1f} s; {os.cpu_count()} cores"
        )
        command = [AGENTPOLICY, "inventory", "--from", str(listing), "--format", "json"]
        command += ["--db", args.db or str(folder / "inventory.sqlite")]
        command += ["--jobs", str(args.jobs)] if args.jobs else []
        rows = [("first run, cold", *timed(command, folder), "< 60 s")]
        rows.append(("second run, nothing changed", *timed(command, folder), ""))
        spacing = max(1, args.repos // max(1, args.changed))
        for number in range(0, min(args.repos, args.changed * spacing), spacing):
            change_repository(paths[number], number, args.agents, signer)
        rows.append((f"after {args.changed} repositories changed", *timed(command, folder), "< 5 s"))
        print(f"{'measure':<34} {'seconds':>8} {'tree MB':>8} {'main MB':>8}  target")
        for name, seconds, tree, single, target in rows:
            print(f"{name:<34} {seconds:>8.2f} {tree:>8.0f} {single:>8.0f}  {target}")
        if args.keep:
            print(f"kept: {folder}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
