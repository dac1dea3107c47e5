"""`agentpolicy status`: the board of agents, approvals and open questions."""

from __future__ import annotations

import sys

import click

from agentpolicy.cli.output import emit, error_documents, error_handler, parse_as_of


@click.command()
@click.option("--rev", default="HEAD", show_default=True, help="The revision whose agents to show.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "markdown"]),
    default=None,
    help="Output format (default: table on a terminal, json otherwise).",
)
@click.option("--output", metavar="FILE", help="Write the board to FILE instead of standard output.")
@click.option("--strict", is_flag=True, help="Exit 1 if a production agent's re-attestation is overdue.")
@click.option("--as-of", "as_of", metavar="DATE", help="The board as it stood on DATE (what was due then).")
def status(rev: str, fmt: str | None, output: str | None, strict: bool, as_of: str | None) -> None:
    """One line per agent: stage, version, owner, approval, and the questions still open.

    The board a team looks at to see what stands between each agent and
    production. "approved" is the audit's verdict on the change that produced
    the agent's current content: enough valid, signed review entries, judged
    with that change's before side (so it never disagrees with the audit).
    """
    chosen = fmt or ("table" if sys.stdout.isatty() and not output else "json")
    with error_handler(), error_documents(None if output else chosen, [], "status"):
        from agentpolicy.app.status import run_status
        from agentpolicy.report.audit_report import render_rows
        from agentpolicy.results.status import STATUS_HEADERS

        board = run_status(rev=rev, as_of=parse_as_of(as_of))
        payload = {"format_version": 1, "agents": [entry.to_json() for entry in board]}
        if not board and chosen == "table":
            emit("No agents found.\n", output)
            return
        emit(render_rows(STATUS_HEADERS, [entry.row() for entry in board], chosen, payload), output)
        overdue = [entry for entry in board if entry.review_overdue and entry.stage == "production"]
        sys.exit(1 if strict and overdue else 0)
