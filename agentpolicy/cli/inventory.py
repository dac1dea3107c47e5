"""`agentpolicy inventory`: parse, run the inventory, print it, exit (1 when a repository failed)."""

from __future__ import annotations

import sys

import click

from agentpolicy.cli.output import echo as _echo
from agentpolicy.cli.output import error_documents as _error_documents
from agentpolicy.cli.output import error_handler
from agentpolicy.cli.output import say as _say


@click.command()
@click.argument("repositories", nargs=-1, metavar="[REPO]...")
@click.option(
    "--from",
    "lists",
    multiple=True,
    metavar="FILE",
    help="Read repository paths from FILE, one per line ('#' starts a comment; - reads standard input).",
)
@click.option(
    "--null", is_flag=True, help="Entries in --from files are separated by NUL bytes (find -print0)."
)
@click.option(
    "--db",
    "database",
    metavar="URL",
    help="A SQLite file (default: agentpolicy-inventory.sqlite here) or postgresql://USER@HOST/DATABASE.",
)
@click.option(
    "--rev", metavar="REV", help="Read this revision in every repository (default: its default branch)."
)
@click.option(
    "--jobs", type=click.IntRange(min=1), metavar="N", help="Worker processes (default: one per core)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default=None,
    help="Output format, one row per agent (default: table on a terminal, json otherwise).",
)
@click.option(
    "--html", "html", metavar="FILE", help="Also write the inventory as one self-contained HTML page."
)
def inventory(
    repositories: tuple[str, ...],
    lists: tuple[str, ...],
    null: bool,
    database: str | None,
    rev: str | None,
    jobs: int | None,
    fmt: str | None,
    html: str | None,
) -> None:
    """Every agent in every repository: owner, stage, approval, gaps, kept in a database.

    Each REPO (a clone or a bare repository) is read offline, with its own
    configuration and allowed signers, at its default branch (origin's HEAD in
    a clone, else HEAD): its agents as `status` shows them and its governed
    changes as `audit` judges them. A repository whose commit is unchanged
    since the last run is skipped; one that cannot be read is recorded with
    its error, and the run goes on (exit 1). The database is written in one
    transaction: an interrupted run leaves the previous complete state. The
    schema is documented in docs/inventory.md.

    \b
    agentpolicy inventory services/billing services/claims
    agentpolicy inventory --from repositories.txt --format csv > agents.csv
    agentpolicy inventory --from repositories.txt --html inventory.html
    agentpolicy inventory --from repositories.txt --db "$DATABASE_URL"
    """
    chosen = fmt or ("table" if sys.stdout.isatty() else "json")
    with error_handler(), _error_documents(chosen, [], "inventory"):
        from agentpolicy.inventory import InventoryRequest, run_inventory
        from agentpolicy.inventory.render import render_inventory, summary_text
        from agentpolicy.inventory.sources import repository_keys

        keys = repository_keys(repositories, lists, null)
        progress = (
            (lambda done, total: click.echo(f"\r  {done}/{total} repositories read", err=True, nl=False))
            if sys.stderr.isatty()
            else None
        )
        result = run_inventory(
            InventoryRequest(keys, database=database, rev=rev, jobs=jobs, progress=progress)
        )
        if progress:
            click.echo("\r" + " " * 40 + "\r", err=True, nl=False)
        _echo(render_inventory(result, chosen), nl=False)
        if html:
            from agentpolicy.files.atomic import replace_file
            from agentpolicy.inventory.page import render_page

            replace_file(html, render_page(result).encode("utf-8", "backslashreplace"))
            _say(f"wrote {html}", err=True)
        _echo(summary_text(result), err=True)
        sys.exit(1 if result.failed else 0)
