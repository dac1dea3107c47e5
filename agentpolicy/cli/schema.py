"""`agentpolicy schema`: print a JSON Schema for editors."""

from __future__ import annotations

import click

from agentpolicy.cli.output import error_handler


@click.command()
@click.option(
    "--kind",
    type=click.Choice(["agent", "review", "config", "rule"]),
    default="agent",
    show_default=True,
    help="Which schema to print.",
)
def schema(kind: str) -> None:
    """Print a JSON Schema (draft 2020-12), e.g. for yaml-language-server in your editor.

    \b
    agentpolicy schema > agent.schema.json
    # then at the top of an agent file:
    # yaml-language-server: $schema=./agent.schema.json
    """
    with error_handler():
        from agentpolicy.model.schemas import exported_schema_text

        click.echo(exported_schema_text(kind), nl=False)
