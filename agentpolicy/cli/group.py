"""The command line: parse options, call one library function, report, exit.

Exit status: 0 no error findings, 1 error findings, 2 usage or environment
error (bad config, not a repository, unknown revision), 3 an internal error.
Heavy modules are imported inside each command so `--help` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from agentpolicy import __version__

# name -> (module, attribute): each command's module is imported only when that command runs
# (or when `--help` lists them all), so the hook does not pay for the other thirteen.
COMMANDS = {
    "check": ("agentpolicy.cli.check", "check"),
    "approve": ("agentpolicy.cli.approve", "approve"),
    "schema": ("agentpolicy.cli.schema", "schema"),
    "rules": ("agentpolicy.cli.rules", "rules"),
    "test": ("agentpolicy.cli.pack_tests", "test_packs"),
    "audit": ("agentpolicy.cli.audit", "audit"),
    "status": ("agentpolicy.cli.status", "status"),
    "demo": ("agentpolicy.cli.demo", "demo"),
    "init": ("agentpolicy.cli.scaffold", "init"),
    "new": ("agentpolicy.cli.scaffold", "new"),
    "export": ("agentpolicy.cli.export", "export"),
    "conformance": ("agentpolicy.cli.conformance", "conformance"),
    "inventory": ("agentpolicy.cli.inventory", "inventory"),
    "evidence": ("agentpolicy.cli.evidence", "evidence"),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module the first time the command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name]
            command: Any = getattr(importlib.import_module(module), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, "--version", prog_name="agentpolicy", message="%(prog)s %(version)s")
def main() -> None:
    """Keep each AI agent's five production answers in the repo, and gate changes on signed reviews.

    \b
    The five questions, one YAML file per agent (see `agentpolicy schema`):
      1. owner           one accountable person, not a team
      2. autonomy        what it does alone, what a person confirms
      3. monitoring      how we find out something is wrong
      4. undo            a rollback, or a human checkpoint before irreversible actions
      5. change_control  how the next version gets approved

    \b
    Typical use:
      agentpolicy check                      policy + change gate, working tree vs HEAD
      agentpolicy check --staged             what the pre-commit hook runs
      agentpolicy check --base origin/main   the pull-request check
      agentpolicy approve billing-cycle      write a signed review entry
    """
