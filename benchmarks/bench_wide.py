"""One commit that adds N agents and 2N review entries: `audit` and `status` must be linear in N.

A judge that scans every entry for every event, or a board that re-reads the reviews tree for
every agent, is quadratic here while a long history of small commits hides it. Targets (issue
20): 10,000 agents with 20,000 entries audited (empty cache) in under 20 s, `status` in under
5 s; the printed ratio per doubling of N should stay near 2.

Usage: python benchmarks/bench_wide.py [--sizes 1250,2500,5000,10000] [--runs N] [--agentpolicy PATH]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import make_wide_repo
from timing import SPREADS, load_note, run_once, spread_report, table

AGENTPOLICY = str(Path(sys.executable).with_name("agentpolicy"))
TARGETS = {"audit": 20.0, "status": 5.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1250,2500,5000,10000")
    parser.add_argument("--runs", type=int, default=1, help="runs per size and command (median)")
    parser.add_argument(
        "--agentpolicy", default=AGENTPOLICY, help="the build to measure (default: this venv's)"
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="agentpolicy-bench-wide-"))
    try:
        rows = []
        previous: dict[str, float] = {}
        for size in sizes:
            repo = make_wide_repo(folder / f"w{size}", size)
            for name, command in (
                ("audit", [args.agentpolicy, "audit", "--format", "json"]),
                ("status", [args.agentpolicy, "status", "--format", "json"]),
            ):
                runs = []
                for _ in range(args.runs):
                    shutil.rmtree(repo / ".git" / "agentpolicy", ignore_errors=True)
                    runs.append(run_once(command, str(repo)))
                seconds, peak = statistics.median(s for s, _ in runs), max(p for _, p in runs)
                times = [s for s, _ in runs]
                SPREADS[f"{name}, {size:,} agents"] = (min(times), max(times), len(times))
                growth = f"{seconds / previous[name]:.2f}x the size before" if name in previous else ""
                target = f" (target < {TARGETS[name]:.0f} s)" if size == 10_000 else ""
                rows.append((f"{name}, {size:,} agents, empty cache", seconds, peak, growth + target))
                previous[name] = seconds
        print(f"one commit, N agents and 2N unsigned entries; {load_note()}")
        print(table(rows))
        print(spread_report())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
