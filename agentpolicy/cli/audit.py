"""`agentpolicy audit`: every governed change in history and who approved it."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from agentpolicy.cli.output import (
    echo,
    emit,
    error_documents,
    error_handler,
    outputs_option,
    parse_as_of,
    parse_date,
    parse_outputs,
    write_report,
)

FORMATS = ("table", "json", "csv", "markdown", "html")


@click.command()
@click.argument("agents", nargs=-1)
@click.option(
    "--rev",
    default="HEAD",
    show_default=True,
    metavar="REV|A..B",
    help="Walk the history of REV, or only the commits of the range A..B.",
)
@click.option("--since", metavar="DATE", help="Only events on or after DATE (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Only events on or before DATE.")
@click.option("--unapproved-only", is_flag=True, help="List only events without a valid approval.")
@click.option("--strict", is_flag=True, help="Exit 1 if any listed event is unapproved (for a nightly job).")
@click.option(
    "--all-parents",
    is_flag=True,
    help="Also list the changes made on merged side branches, each judged on its own tree.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Output format (default: table on a terminal, json otherwise).",
)
@click.option("--output", metavar="FILE", help="Write the report to FILE instead of standard output.")
@click.option(
    "--as-of",
    "as_of",
    metavar="DATE",
    help="Audit the branch as it stood on DATE; break-glass follow-up deadlines are judged then.",
)
@outputs_option("-o html=audit.html -o csv=audit.csv")
def audit(
    agents: tuple[str, ...],
    rev: str,
    since: str | None,
    until: str | None,
    unapproved_only: bool,
    strict: bool,
    all_parents: bool,
    fmt: str | None,
    output: str | None,
    as_of: str | None,
    outputs: tuple[str, ...],
) -> None:
    """List every approval ever given, and every governed change that slipped through.

    Walks the first-parent history of the branch, offline, and lists each
    governed change of each agent (created, version, autonomy expanded or
    narrowed, owner, stage, retired, deleted) with its commit, date, author and
    the review entries that approve exactly that content. Each commit is
    judged as the pull-request check would judge it alone: with its parent's
    configuration and allowed signers, its own authors, at its committer date
    (never earlier than an ancestor's). Changes to the trust root are events
    too. An approval added after the change (before the content changed
    again) shows as "approved later".

    \b
    agentpolicy audit                             everything on this branch
    agentpolicy audit billing-cycle --since 2026-01-01
    agentpolicy audit --unapproved-only --strict --all-parents  a nightly job
    agentpolicy audit --format html --output report.html
    """
    chosen = fmt or ("table" if sys.stdout.isatty() and not output else "json")
    with error_handler(), error_documents(None if output else chosen, [], "audit"):
        from agentpolicy.app.audit import AuditRequest
        from agentpolicy.app.audit_run import audit_report
        from agentpolicy.report.audit_report import audit_chunks, render_audit

        extra = parse_outputs(outputs, FORMATS)
        progress = _progress() if sys.stderr.isatty() else None
        request = AuditRequest(
            agents=agents,
            rev=rev,
            since=parse_date(since, "--since"),
            until=parse_date(until, "--until"),
            unapproved_only=unapproved_only,
            all_parents=all_parents,
            progress=progress,
            as_of=parse_as_of(as_of),
        )
        with_board = "html" in (chosen, *(name for name, _ in extra))
        report = audit_report(request, strict=strict, with_board=with_board)
        if progress:
            click.echo("\r" + " " * 40 + "\r", err=True, nl=False)
        if output:
            emit(render_audit(report.result, chosen, report.board), output)
        else:  # written as it is read back: a long history is never one string in memory
            for chunk in audit_chunks(report.result, chosen, report.board):
                echo(chunk, nl=False)
        for name, path in extra:
            write_report(path, render_audit(report.result, name, report.board))
        report.close()
        sys.exit(report.exit_code(strict))


def _progress() -> Callable[[int], None]:
    """A commit counter on the terminal while the history is read."""
    return lambda n: click.echo(f"\r  {n} commits read...", err=True, nl=False)
