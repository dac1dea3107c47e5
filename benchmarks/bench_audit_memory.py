"""Audit memory in history length: peak resident memory of `audit --format json` at 1,000 and
10,000 commits (200 agents), first run (empty cache) and warm; target: within 1.3x.

Usage: python benchmarks/bench_audit_memory.py [--runs N] [--agentpolicy PATH] [--long N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import make_repo
from timing import load_note, run_once, table

AGENTPOLICY = str(Path(sys.executable).with_name("agentpolicy"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--long", type=int, default=10_000, help="commits of the long history")
    parser.add_argument(
        "--agentpolicy", default=AGENTPOLICY, help="the build to measure (default: this venv's)"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="agentpolicy-bench-memory-"))
    try:
        repos = {n: make_repo(folder / f"r{n}", args.agents, n) for n in (1_000, args.long)}
        command = [args.agentpolicy, "audit", "--format", "json"]
        figures: dict[tuple[int, str], list[tuple[float, float]]] = {}
        for _ in range(args.runs):
            for commits, repo in repos.items():
                shutil.rmtree(repo / ".git" / "agentpolicy", ignore_errors=True)
                figures.setdefault((commits, "empty cache"), []).append(run_once(command, str(repo)))
                figures.setdefault((commits, "cache warm"), []).append(run_once(command, str(repo)))
        rows = []
        for cache in ("empty cache", "cache warm"):
            peaks = {n: statistics.median(p for _, p in figures[(n, cache)]) for n in repos}
            for commits in repos:
                seconds = statistics.median(s for s, _ in figures[(commits, cache)])
                ratio = peaks[commits] / peaks[1_000]
                note = f"{ratio:.2f}x the 1,000-commit peak" + (
                    " (target <= 1.3x)" if commits != 1_000 else ""
                )
                rows.append((f"audit, {commits:,} commits, {cache}", seconds, peaks[commits], note))
        print(f"{args.agents} agents, median peak of {args.runs} runs; {load_note()}")
        print(table(rows))
        print("run-to-run spread of the peaks (lowest - highest):")
        for (commits, cache), runs in figures.items():
            low, high = min(p for _, p in runs), max(p for _, p in runs)
            print(
                f"  audit, {commits:,} commits, {cache:<12} {low:.1f} - {high:.1f} MB over {len(runs)} runs"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
