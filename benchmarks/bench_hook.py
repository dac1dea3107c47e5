"""The hook (`check --staged`, one staged change in 1,000 agents) of two agentpolicy builds, side by side.

Usage: python benchmarks/bench_hook.py OTHER_AGENTPOLICY [--runs N]
Times this environment's `agentpolicy` against another installed build (e.g. a venv made from
an earlier commit), alternating runs so machine noise hits both alike; both runs share one
repository, and each build's own cache in .git/agentpolicy is warm after the first run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_check import AGENTPOLICY, make_flat_repo
from timing import compare, spread_report, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("other", help="path to the other build's agentpolicy executable")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="agentpolicy-bench-hook-"))
    try:
        repo = make_flat_repo(folder / "r1000", 1000)
        result = compare(
            {
                "other build: check --staged": [args.other, "check", "--staged"],
                "this build: check --staged": [AGENTPOLICY, "check", "--staged"],
            },
            str(repo),
            args.runs,
        )
        base = result["other build: check --staged"][0]
        rows = [(name, seconds, peak, f"{seconds / base:.2f}x") for name, (seconds, peak) in result.items()]
        print(f"median of {args.runs} alternating runs, 1,000 agents, one staged change")
        print(table(rows))
        print(spread_report())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
