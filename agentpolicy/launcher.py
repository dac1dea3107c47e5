"""The console script: answers `--version` without importing click, then hands over to the CLI."""

from __future__ import annotations

import contextlib
import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from agentpolicy import __version__

        sys.stdout.write(f"agentpolicy {__version__}\n")
        return
    from agentpolicy.cli.environment import ensure_stdout

    ensure_stdout()
    # A raw file name (bytes that are not UTF-8) must never crash a print, whatever the locale,
    # nor put invalid UTF-8 into a report: what cannot be encoded is written as an escape.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    from agentpolicy.cli.group import main as cli_main

    try:
        cli_main()
    finally:
        _deliver_output()


def _deliver_output() -> None:
    """Flush standard output while a failure can still be reported: a full disk behind it is exit
    2 naming standard output (not Python's "Exception ignored" at exit), a closed pipe ends quietly."""
    from agentpolicy.cli.environment import EnvironmentFault, flush_stdout

    fault = flush_stdout()
    if isinstance(fault, EnvironmentFault):
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"agentpolicy: error: {fault.message}\n  fix: {fault.hint}\n")
        sys.exit(2)
    if fault is not None:
        sys.exit(2)
