"""The console script: answers `--version` without importing click, then hands over to the CLI."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from agentpolicy import __version__

        sys.stdout.write(f"agentpolicy {__version__}\n")
        return
    from agentpolicy.cli import main as cli_main

    cli_main()
