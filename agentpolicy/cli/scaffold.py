"""`agentpolicy init` and `agentpolicy new`: guard a repository, scaffold an agent."""

from __future__ import annotations

from typing import Any

import click

from agentpolicy.cli.output import echo, error_handler, say


def _print_plan(plan: Any, dry_run: bool) -> None:
    from agentpolicy.report.safe import visible_lines

    if dry_run:
        click.echo("Plan (nothing written, --dry-run):")
    for action in plan.actions:
        say(f"  {action.describe()}")
    if not dry_run:
        plan.carry_out()
        changed = [a for a in plan.actions if a.verb != "skip"]
        click.echo("Nothing to do: already set up." if not changed else f"Done: {len(changed)} change(s).")
    for warning in plan.warnings:
        say(f"warning: {warning}", err=True)
    if plan.next_steps:
        click.echo("Next steps:")
        for step in plan.next_steps:
            echo("\n".join(f"  {line}" for line in visible_lines(step).split("\n")))


@click.command()
@click.option("--dry-run", is_flag=True, help="Show what would be created or appended, and change nothing.")
@click.option(
    "--solo",
    is_flag=True,
    help="A single maintainer: set allow_self_approval: true in the new .agentpolicy.yaml (with a warning).",
)
def init(dry_run: bool, solo: bool) -> None:
    """Guard this repository: config, folders, allowed signers and the pre-commit hooks.

    Creates .agentpolicy.yaml with documented defaults, the agents/ and
    reviews/ folders, .agentpolicy/allowed_signers (seeded with your git SSH
    signing key when gpg.format is ssh, else it prints how to make one), and
    local pre-commit hooks for commit, merge and push in .pre-commit-config.yaml
    (appended to an existing one, every byte kept, or left untouched with the
    snippet to paste). Never overwrites a file, never writes into .git/hooks
    (run `pre-commit install` next); running it twice changes nothing.
    Working alone? --solo lets you approve your own changes (see the README).

    \b
    Example:
      agentpolicy init --dry-run
      agentpolicy init
      pre-commit install
    """
    with error_handler():
        from agentpolicy.app.scaffold import plan_init

        _print_plan(plan_init(solo=solo), dry_run)


@click.command()
@click.argument("agent")
@click.option("--path", metavar="FILE", help="Where to write it (default: agents/AGENT.yaml).")
@click.option("--dry-run", is_flag=True, help="Show the file that would be written.")
def new(agent: str, path: str | None, dry_run: bool) -> None:
    """Scaffold a new agent at stage pilot, with the five questions to answer.

    The owner is taken from git config. `agentpolicy check` then lists, as
    warnings, what to answer before production, and (AP201) that a reviewer
    must approve the new agent with `agentpolicy approve AGENT` before the
    commit that adds it.
    """
    with error_handler():
        from agentpolicy.app.scaffold import plan_new

        plan = plan_new(agent, path=path)
        if dry_run:
            from agentpolicy.report.safe import visible_lines

            echo(visible_lines(plan.actions[0].content.decode()), nl=False)
        _print_plan(plan, dry_run)
