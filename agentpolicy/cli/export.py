"""`agentpolicy export`: the approved boundary for runtime guards (thin: parse, call, write, exit)."""

from __future__ import annotations

import sys

import click


@click.command()
@click.argument("agents", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["boundary", "opa", "mcp", "a2a"]),
    default="boundary",
    show_default=True,
    help="boundary (JSON for agentpolicy.runtime), opa (data.json + Rego module), mcp (tool "
    "annotations), a2a (AgentCard extension).",
)
@click.option("--rev", default="HEAD", show_default=True, metavar="REV", help="The revision to read.")
@click.option(
    "--output",
    metavar="PATH",
    help="Write to a new file (a new folder for opa) instead of standard output; never overwrites.",
)
@click.option(
    "--allow-unapproved",
    is_flag=True,
    help="Export an agent whose current content is not approved (then `approved` is false).",
)
def export(agents: tuple[str, ...], fmt: str, rev: str, output: str | None, allow_unapproved: bool) -> None:
    """Export the autonomy boundary of each AGENT as approved in git.

    The boundary is the agent's `autonomous` and `requires_confirmation` actions
    at REV, with the judge's verdict on that content (as `agentpolicy status`
    gives it) and who approved it. An agent whose current content is not
    approved is refused (exit 1) unless --allow-unapproved.

    \b
    agentpolicy export billing-cycle                          JSON for agentpolicy.runtime
    agentpolicy export billing-cycle --format opa --output opa-bundle
    agentpolicy export billing-cycle --format mcp
    agentpolicy export billing-cycle --format a2a --rev main

    Exit status: 0 written, 1 an agent is not approved, 2 usage or environment error.
    """
    from agentpolicy.cli.output import echo as _echo  # here: cli.py imports this module at its end
    from agentpolicy.cli.output import error_handler
    from agentpolicy.cli.output import say as _say

    with error_handler():
        from agentpolicy.export.opa import bundle_files
        from agentpolicy.export.render import render_json, write_bundle
        from agentpolicy.export.source import repo_boundaries

        if fmt == "opa" and not output:
            raise click.UsageError(
                "--format opa writes two files (data.json and agentpolicy.rego): pass --output DIR"
            )
        boundaries = repo_boundaries(".", list(dict.fromkeys(agents)), rev)
        refused = [b for b in boundaries if not b.approved]
        if refused and not allow_unapproved:
            for boundary in refused:
                _say(
                    f"agentpolicy: {boundary.agent} {boundary.version} at {rev} is not approved: "
                    "its current content has no valid approval",
                    err=True,
                )
            _say(
                "  fix: approve it (agentpolicy approve AGENT, then commit), or pass --allow-unapproved",
                err=True,
            )
            sys.exit(1)
        if fmt == "opa":
            assert output is not None
            write_bundle(output, bundle_files(boundaries))
            _say(f"wrote {output}/ (data.json, agentpolicy.rego)", err=True)
            return
        text = render_json(boundaries, fmt)
        if output:
            from agentpolicy.files.atomic import write_new

            write_new(output, text.encode("utf-8"))
            _say(f"wrote {output}", err=True)
        else:
            _echo(text, nl=False)
