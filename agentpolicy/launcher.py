"""The console script: answers `--version` without importing click, then hands over to the CLI."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from agentpolicy import __version__

        sys.stdout.write(f"agentpolicy {__version__}\n")
        return
    # A raw file name (bytes that are not UTF-8) must never crash a print, whatever the locale,
    # nor put invalid UTF-8 into a report: what cannot be encoded is written as an escape.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    from agentpolicy.cli import main as cli_main

    cli_main()
