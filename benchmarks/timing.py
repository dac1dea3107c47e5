"""Alternating, repeated timing of whole commands, with medians and peak memory."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence


def _environment() -> dict[str, str]:
    """As a user runs it: bytecode caches on (some sandboxes set PYTHONDONTWRITEBYTECODE)."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def run_once(command: Sequence[str], cwd: str, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Seconds and the peak resident memory (MB) of one run of `command`."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.chdir(cwd)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execvpe(command[0], list(command), env or _environment())
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed with {os.waitstatus_to_exitcode(status)}")
    return elapsed, usage.ru_maxrss / 1024


def compare(commands: dict[str, Sequence[str]], cwd: str, runs: int = 5) -> dict[str, tuple[float, float]]:
    """Median seconds and max peak MB per command, runs alternating so drift hits all equally."""
    return compare_in({name: (command, cwd) for name, command in commands.items()}, runs)


def compare_in(
    commands: dict[str, tuple[Sequence[str], str]], runs: int = 5
) -> dict[str, tuple[float, float]]:
    """As `compare`, each command in its own folder (e.g. the same command in two repositories)."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    peaks: dict[str, float] = dict.fromkeys(commands, 0.0)
    for command, cwd in commands.values():  # warm caches once
        run_once(command, cwd)
    for _ in range(runs):
        for name, (command, cwd) in commands.items():
            seconds, peak = run_once(command, cwd)
            times[name].append(seconds)
            peaks[name] = max(peaks[name], peak)
    for name, values in times.items():
        SPREADS[name] = (min(values), max(values), len(values))
    return {name: (statistics.median(values), peaks[name]) for name, values in times.items()}


SPREADS: dict[str, tuple[float, float, int]] = {}  # command name -> (fastest, slowest, runs)


def spread_report() -> str:
    """The run-to-run spread of every command timed so far: read a ratio against it."""
    lines = ["run-to-run spread (fastest - slowest of the timed runs):"]
    lines += [
        f"  {name:<44} {low:.3f} - {high:.3f} s over {count} runs ({(high - low) / low * 100:.0f}%)"
        for name, (low, high, count) in SPREADS.items()
    ]
    return "\n".join(lines)


def table(rows: list[tuple[str, float, float, str]]) -> str:
    lines = [f"{'measure':<44} {'median s':>9} {'peak MB':>8}  ratio"]
    lines += [f"{name:<44} {seconds:>9.3f} {peak:>8.1f}  {ratio}" for name, seconds, peak, ratio in rows]
    return "\n".join(lines)


def load_note() -> str:
    """The machine's load while the figures were taken (a shared machine skews every figure)."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {one:.1f} (1 min) {five:.1f} (5 min)"
