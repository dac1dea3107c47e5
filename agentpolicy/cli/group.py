"""The command line: parse options, call one library function, report, exit.

Exit status: 0 no error findings, 1 error findings, 2 usage or environment
error (bad config, not a repository, unknown revision), 3 an internal error.
Heavy modules are imported inside each command so `--help` stays fast.
"""

from __future__ import annotations

import click

from agentpolicy import __version__
from agentpolicy.cli.approve import approve
from agentpolicy.cli.audit import audit
from agentpolicy.cli.check import check
from agentpolicy.cli.conformance import conformance
from agentpolicy.cli.demo import demo
from agentpolicy.cli.evidence import evidence
from agentpolicy.cli.export import export
from agentpolicy.cli.inventory import inventory
from agentpolicy.cli.pack_tests import test_packs
from agentpolicy.cli.rules import rules
from agentpolicy.cli.scaffold import init, new
from agentpolicy.cli.schema import schema
from agentpolicy.cli.status import status


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


main.add_command(check)
main.add_command(approve)
main.add_command(schema)
main.add_command(rules)
main.add_command(test_packs)
main.add_command(audit)
main.add_command(status)
main.add_command(demo)
main.add_command(init)
main.add_command(new)
main.add_command(export)
main.add_command(conformance)
main.add_command(inventory)
main.add_command(evidence)
