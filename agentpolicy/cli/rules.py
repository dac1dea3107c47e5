"""`agentpolicy rules`: list every rule and where it comes from."""

from __future__ import annotations

import click

from agentpolicy.cli.output import echo, error_handler, say


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="markdown is the reference page docs/rules.md is generated from.",
)
def rules(fmt: str) -> None:
    """List every rule: id, severity, what it checks and where it is defined.

    Rules come from the built-in pack and from the packs named under `policy:`
    in .agentpolicy.yaml; `from:` says which.
    """
    with error_handler():
        from agentpolicy.app.worktree_config import worktree_config
        from agentpolicy.rules import all_rules

        known = sorted(
            [*all_rules(), *(rule.info for rule in worktree_config().pack_rules)], key=lambda r: r.id
        )
        if fmt == "json":
            import json

            from agentpolicy.report.safe import json_text

            echo(json_text(json.dumps([vars(rule) for rule in known], indent=2, ensure_ascii=False)))
            return
        if fmt == "markdown":
            from agentpolicy.report.rules_doc import render

            echo(render(known), nl=False)
            return
        for rule in known:
            say(f"{rule.id}  {rule.severity:<7}  {rule.name}")
            say(f"       {rule.description}")
            say(f"       fix: {rule.hint}")
            say(f"       from: {rule.source}")
