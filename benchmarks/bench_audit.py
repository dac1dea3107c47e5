"""Audit speed: `agentpolicy audit --format json` next to `git log` on a 10,000-commit history.

Usage: python benchmarks/bench_audit.py [--commits N] [--agents N] [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import make_repo
from timing import compare, run_once, table

AGENTPOLICY = str(Path(sys.executable).with_name("agentpolicy"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="agentpolicy-bench-"))
    try:
        repo = make_repo(folder / "repo", args.agents, args.commits)
        cold, cold_peak = run_once([AGENTPOLICY, "audit", "--format", "json"], str(repo))  # empty cache
        results = compare(
            {
                "git log --name-status -- agents/": ["git", "log", "--name-status", "--", "agents/"],
                "git log -p -- agents/": ["git", "log", "-p", "--", "agents/"],
                "agentpolicy audit --format json": [AGENTPOLICY, "audit", "--format", "json"],
            },
            str(repo),
            runs=args.runs,
        )
        base_status = results["git log --name-status -- agents/"][0]
        base_patch = results["git log -p -- agents/"][0]
        rows = []
        for name, (seconds, peak) in results.items():
            ratio = f"{seconds / base_status:.1f}x name-status, {seconds / base_patch:.1f}x -p"
            rows.append((name, seconds, peak, ratio))
        rows.append(
            (
                "agentpolicy audit, first run (empty cache)",
                cold,
                cold_peak,
                f"{cold / base_status:.1f}x name-status, {cold / base_patch:.1f}x -p",
            )
        )
        print(
            f"{args.commits} commits, {args.agents} agents, median of {args.runs} alternating runs "
            "(the derived-data cache in .git is warm after the first run)"
        )
        print(table(rows))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
