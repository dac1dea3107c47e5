"""`agentpolicy evidence`: write a bundle an auditor verifies with `sh verify.sh`, without us."""

from __future__ import annotations

import json
import sys

import click

from agentpolicy.cli.output import echo as _echo
from agentpolicy.cli.output import error_documents as _error_documents
from agentpolicy.cli.output import error_handler
from agentpolicy.cli.output import parse_date as _date
from agentpolicy.cli.output import say as _say


@click.command()
@click.argument("agents", nargs=-1)
@click.option(
    "--output", "output", required=True, metavar="DIR", help="A new folder to write the bundle into."
)
@click.option(
    "--rev",
    default="HEAD",
    show_default=True,
    metavar="REV|A..B",
    help="Give evidence for the history of REV, or only the commits of the range A..B.",
)
@click.option("--since", metavar="DATE", help="Only events on or after DATE (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Only events on or before DATE.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json prints the bundle's manifest.",
)
def evidence(
    agents: tuple[str, ...], output: str, rev: str, since: str | None, until: str | None, fmt: str
) -> None:
    """Write a self-contained evidence bundle: in-toto statements, entries, signers, verify.sh.

    One in-toto Statement v1 per review entry that counts and per unapproved
    change, the raw entries with exactly the bytes each signature covers, the
    allowed (and revoked) signers they were verified against, the audit report
    (HTML, CSV), a controls map (EU AI Act, ISO/IEC 42001, NIST AI RMF) and
    verify.sh, which re-checks every file and signature with only sh, coreutils
    and ssh-keygen. The same range gives the same bytes (the manifest's
    generation time aside).

    \b
    agentpolicy evidence --output evidence
    agentpolicy evidence billing-cycle --since 2026-01-01 --output evidence-billing
    sh evidence/verify.sh
    """
    with error_handler(), _error_documents(None if fmt == "text" else "json", [], "evidence"):
        from agentpolicy.evidence.bundle import EvidenceRequest, write_evidence

        manifest = write_evidence(
            EvidenceRequest(
                output=output,
                agents=agents,
                rev=rev,
                since=_date(since, "--since"),
                until=_date(until, "--until"),
            )
        )
        if fmt == "json":
            _echo(json.dumps(manifest, indent=2, sort_keys=True))
            sys.exit(0)
        summary = manifest["summary"]
        _say(
            f"wrote {output}: {summary['review_statements']} review statement(s), "
            f"{summary['unapproved_statements']} unapproved change(s), {summary['entries']} entr(y/ies), "
            f"{len(manifest['files'])} file(s)"
        )
        _say(f"verify it anywhere with: sh {output}/verify.sh")
