"""Audit speed: `agentpolicy audit --format json` next to `git log` on a 10,000-commit history.

Usage: python benchmarks/bench_audit.py [--commits N] [--agents N] [--runs N] [--agentpolicy PATH]
The first-run figure (empty cache: `.git/agentpolicy` deleted before each run) is what a team's
first audit and every CI job without the derived cache pays; it is the one the target is set on.
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
from timing import SPREADS, compare, load_note, run_once, spread_report, table

AGENTPOLICY = str(Path(sys.executable).with_name("agentpolicy"))


def cold_runs(agentpolicy: str, repo: Path, runs: int) -> dict[str, tuple[float, float]]:
    """Alternating runs of `git log -p` and a first audit (its cache deleted before each run)."""
    times: dict[str, list[float]] = {"git log -p -- agents/": [], "audit, empty cache": []}
    peaks = dict.fromkeys(times, 0.0)
    for _ in range(runs):
        shutil.rmtree(repo / ".git" / "agentpolicy", ignore_errors=True)
        for name, command in (
            ("git log -p -- agents/", ["git", "log", "-p", "--", "agents/"]),
            ("audit, empty cache", [agentpolicy, "audit", "--format", "json"]),
        ):
            seconds, peak = run_once(command, str(repo))
            times[name].append(seconds)
            peaks[name] = max(peaks[name], peak)
    for name, values in times.items():
        SPREADS[f"{name} (cold runs)"] = (min(values), max(values), len(values))
    return {name: (statistics.median(values), peaks[name]) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--agentpolicy", default=AGENTPOLICY, help="the build to time (default: this venv's)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="agentpolicy-bench-"))
    try:
        repo = make_repo(folder / "repo", args.agents, args.commits)
        cold = cold_runs(args.agentpolicy, repo, args.runs)
        base_cold = cold["git log -p -- agents/"][0]
        rows = [
            (
                name,
                seconds,
                peak,
                f"{seconds / base_cold:.1f}x -p" + (" (target <= 4x, goal 2x)" if "audit" in name else ""),
            )
            for name, (seconds, peak) in cold.items()
        ]
        run_once([args.agentpolicy, "audit", "--format", "json"], str(repo))  # fills the cache
        results = compare(
            {
                "git log --name-status -- agents/": ["git", "log", "--name-status", "--", "agents/"],
                "git log -p -- agents/": ["git", "log", "-p", "--", "agents/"],
                "audit, cache warm": [args.agentpolicy, "audit", "--format", "json"],
            },
            str(repo),
            runs=args.runs,
        )
        base_status = results["git log --name-status -- agents/"][0]
        base_patch = results["git log -p -- agents/"][0]
        for name, (seconds, peak) in results.items():
            ratio = f"{seconds / base_patch:.1f}x -p, {seconds / base_status:.1f}x name-status"
            rows.append((name, seconds, peak, ratio))
        print(
            f"{args.commits} commits, {args.agents} agents, median of {args.runs} alternating runs;",
            load_note(),
        )
        print(table(rows))
        print(spread_report())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
