"""`agentpolicy demo`: the whole story on a throwaway repository."""

from __future__ import annotations

import click

from agentpolicy.cli.output import echo, error_handler, say


@click.command()
@click.option("--keep", is_flag=True, help="Keep the throwaway repository and print its path.")
def demo(keep: bool) -> None:
    """Watch the whole story on a throwaway repository, offline, in about ten seconds.

    The policy check passes; a commit that lets the billing agent submit to the
    client portal alone is refused by the pre-commit hook; a reviewer signs an
    approval; the commit goes through; the audit shows the history. Nothing is
    left behind unless you pass --keep.
    """
    with error_handler():
        from agentpolicy.app.demo import run_demo
        from agentpolicy.report.safe import visible, visible_lines

        for step in run_demo(keep=keep):
            click.secho(f"\n{visible(step.title)}", bold=True)
            say(f"  {step.explanation}")
            if step.command:
                click.secho(f"  $ {visible(step.command)}", dim=True)
            if step.output:
                echo("\n".join("    " + line for line in visible_lines(step.output).splitlines()))
            if step.command:
                click.echo(f"  (exit status {step.exit_code})")
