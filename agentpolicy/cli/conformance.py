"""`agentpolicy conformance`: runtime logs judged against the boundaries approved in git (thin CLI)."""

from __future__ import annotations

import sys

import click

CONFORMANCE_FORMATS = ("text", "json", "github", "sarif", "junit", "gitlab")


@click.command()
@click.argument("logs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--rev",
    default="HEAD",
    show_default=True,
    metavar="REV",
    help="The branch whose first-parent history says what was approved when.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(CONFORMANCE_FORMATS),
    default="text",
    show_default=True,
    help="Output format (the same as check's).",
)
@click.option(
    "-o",
    "--output-to",
    "outputs",
    multiple=True,
    metavar="FORMAT=PATH",
    help="Also write FORMAT to PATH (repeatable), as check does: sarif=conformance.sarif.",
)
@click.option(
    "--max-findings",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="List at most this many findings; the rest are counted in the summary.",
)
def conformance(
    logs: tuple[str, ...], rev: str, fmt: str, outputs: tuple[str, ...], max_findings: int
) -> None:
    """Judge what agents did (LOG files) against the boundary approved in git at each event's time.

    A LOG is JSON Lines of {"time", "agent", "action", "version"?, "confirmed_by"?}
    or an OTLP JSON trace export (one record per line, or one document) with the
    GenAI attributes gen_ai.agent.name, gen_ai.tool.name (and gen_ai.agent.version,
    agentpolicy.confirmed_by). An agent's boundary at time T is its content at the
    last first-parent commit at or before T whose change was approved.

    \b
    agentpolicy conformance runtime.jsonl
    agentpolicy conformance traces.json --rev main --format sarif

    Exit status: 0 every event conforms, 1 findings, 2 usage or environment error.
    """
    from agentpolicy.cli.output import echo as _echo
    from agentpolicy.cli.output import error_documents as _error_documents
    from agentpolicy.cli.output import error_handler
    from agentpolicy.cli.output import parse_outputs as _parse_outputs
    from agentpolicy.cli.output import write_report as _write_report

    extra = _parse_outputs(outputs, CONFORMANCE_FORMATS)
    with error_handler(), _error_documents(fmt, extra):
        from agentpolicy.conformance.judging import ConformanceRequest, run_conformance
        from agentpolicy.conformance.report import render_conformance

        result = run_conformance(ConformanceRequest(logs=logs, rev=rev, max_findings=max_findings))
        color = fmt == "text" and "NO_COLOR" not in __import__("os").environ and sys.stdout.isatty()
        _echo(render_conformance(result, fmt, color=color), nl=False, runner_safe=fmt == "github")
        for name, path in extra:
            _write_report(path, render_conformance(result, name))
        sys.exit(result.exit_code)
