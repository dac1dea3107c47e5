"""Hook and full-check speed, next to check-jsonschema with the same schema, in one run.

Usage: python benchmarks/bench_check.py [--runs N] [--agentpolicy PATH] [--only hook|full|scaling|startup]
(needs: pip install check-jsonschema)
Prints median seconds of alternating runs, the ratios the speed targets are stated in, and
`agentpolicy --help` / `--version` start-up times.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import agent_text
from timing import compare, compare_in, load_note, spread_report, table

AGENTPOLICY = str(Path(sys.executable).with_name("agentpolicy"))


def make_flat_repo(path: Path, agents: int) -> Path:
    """`agents` agent files committed in one commit, plus one staged change to one of them."""
    path.mkdir(parents=True)
    run = lambda *args: subprocess.run(args, cwd=path, check=True, capture_output=True)  # noqa: E731
    run("git", "init", "-q", "-b", "main")
    run("git", "config", "user.email", "bench@example.com")
    run("git", "config", "user.name", "Bench")
    (path / ".agentpolicy.yaml").write_text("require_signatures: false\nallow_self_approval: true\n")
    (path / "agents").mkdir()
    for index in range(agents):
        (path / "agents" / f"agent-{index:05d}.yaml").write_text(agent_text(index))
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "agents", "--no-verify")
    (path / "agents" / "agent-00000.yaml").write_text(
        agent_text(0, 1).replace("description:", "description: x")
    )
    run("git", "add", "-A")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--agentpolicy", default=AGENTPOLICY, help="the build to time (default: this venv's)")
    parser.add_argument("--only", choices=["hook", "full", "scaling", "startup"], action="append")
    args = parser.parse_args()
    agentpolicy = args.agentpolicy
    parts = set(args.only or ["hook", "full", "scaling", "startup"])
    checker = shutil.which("check-jsonschema") or str(Path(sys.executable).with_name("check-jsonschema"))
    if not Path(checker).exists():
        raise SystemExit("check-jsonschema is not installed: pip install check-jsonschema")
    folder = Path(tempfile.mkdtemp(prefix="agentpolicy-bench-"))
    try:
        schema = folder / "agent.schema.json"
        schema.write_text(
            subprocess.run([agentpolicy, "schema"], capture_output=True, text=True, check=True).stdout
        )
        rows: list[tuple[str, float, float, str]] = []
        if parts & {"hook", "full"}:
            big = make_flat_repo(folder / "r1000", 1000)
            one = str(big / "agents" / "agent-00000.yaml")
            everything = sorted(str(p) for p in (big / "agents").glob("*.yaml"))
        if "hook" in parts:
            hook = compare(
                {
                    "check-jsonschema, one file": [checker, "--schemafile", str(schema), one],
                    "agentpolicy check --staged (1,000 agents)": [agentpolicy, "check", "--staged"],
                },
                str(big),
                args.runs,
            )
            base = hook["check-jsonschema, one file"][0]
            for name, (seconds, peak) in hook.items():
                rows.append((name, seconds, peak, f"{seconds / base:.2f}x (target <= 0.4x, goal 0.3x)"))
        if "full" in parts:
            full = compare(
                {
                    "check-jsonschema, 1,000 files": [checker, "--schemafile", str(schema), *everything],
                    "agentpolicy check agents (1,000 files)": [agentpolicy, "check", "agents"],
                },
                str(big),
                max(3, args.runs // 2),
            )
            base = full["check-jsonschema, 1,000 files"][0]
            for name, (seconds, peak) in full.items():
                rows.append((name, seconds, peak, f"{seconds / base:.2f}x (target <= 0.12x)"))
        if "scaling" in parts:
            small = make_flat_repo(folder / "r100", 100)
            huge = make_flat_repo(folder / "r10000", 10_000)
            command = [agentpolicy, "check", "--staged"]
            scaling = compare_in({"100": (command, str(small)), "10,000": (command, str(huge))}, args.runs)
            rows.append(("check --staged, 100 agents", *scaling["100"], "1.00x"))
            ratio = scaling["10,000"][0] / scaling["100"][0]
            rows.append(
                ("check --staged, 10,000 agents", *scaling["10,000"], f"{ratio:.2f}x (target <= 1.5x)")
            )
        if "startup" in parts:
            startup = compare(
                {
                    "python -c pass": [sys.executable, "-c", "pass"],
                    "agentpolicy --version": [agentpolicy, "--version"],
                    "agentpolicy --help": [agentpolicy, "--help"],
                },
                str(folder),
                args.runs,
            )
            for name, (seconds, peak) in startup.items():
                rows.append((name, seconds, peak, "target < 0.100 s" if "agentpolicy" in name else ""))
        print(f"median of {args.runs} alternating runs; {load_note()}")
        print(table(rows))
        print(spread_report())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
