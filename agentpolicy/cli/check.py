"""`agentpolicy check`: policy and the review gate, in every mode (files, tree, hook, range, CI, push)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import click

from agentpolicy.cli.output import (
    echo,
    error_documents,
    error_handler,
    error_text,
    outputs_option,
    parse_outputs,
    use_color,
    write_report,
)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=True))
@click.option("--staged", is_flag=True, help="Check the index (what is about to be committed) against HEAD.")
@click.option("--base", metavar="REV", help="Check the range merge-base(REV, HEAD)..HEAD (pull requests).")
@click.option(
    "--head",
    metavar="REV",
    default="HEAD",
    show_default=True,
    help="Head of the range, with --base.",
)
@click.option(
    "--pushed",
    is_flag=True,
    help="Check the range being pushed (PRE_COMMIT_FROM_REF..PRE_COMMIT_TO_REF; the pre-push hook).",
)
@click.option(
    "--ci",
    is_flag=True,
    help="Take the range from the CI environment (GitHub Actions, GitLab CI), pick its output "
    "format, and write the job summary.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github", "sarif", "junit", "gitlab"]),
    default=None,
    help="Output format (default: text; github under --ci on GitHub Actions).",
)
@outputs_option("-o sarif=agentpolicy.sarif -o junit=report.xml")
def check(
    paths: tuple[str, ...],
    staged: bool,
    base: str | None,
    head: str,
    pushed: bool,
    ci: bool,
    fmt: str | None,
    outputs: tuple[str, ...],
) -> None:
    """Check agent definitions against policy, and changes against the review gate.

    \b
    agentpolicy check agents/              policy check of those files (folders are searched)
    agentpolicy check                      the working tree against HEAD: policy on every
                                           agent, and every governed change needs a matching
                                           review entry
    agentpolicy check --staged             the index against HEAD (the pre-commit hook)
    agentpolicy check --base origin/main   merge-base(origin/main, --head) against --head (CI)
    agentpolicy check --ci                 the pull request or push, found from the CI's
                                           variables (GitHub Actions, GitLab CI)

    With a before side, .agentpolicy.yaml and the allowed signers are read from
    that side: a change cannot relax the rules it is judged by.

    \b
    Formats: text, json (stable, documented), github (annotations), sarif
    (code scanning), junit (test reports), gitlab (Code Quality).

    Exit status: 0 passed (warnings allowed), 1 error findings, 2 usage or
    environment error.
    """
    extra = parse_outputs(outputs, CHECK_FORMATS)
    with error_handler(), error_documents(fmt, extra), _ci_stop_to_runner(ci):
        from agentpolicy.app.check import run_check
        from agentpolicy.app.check_plan import plan_check

        plan = plan_check(paths, staged=staged, base=base, head=head, pushed=pushed, ci=ci, fmt=fmt)
        result = run_check(plan.request)
        if plan.range_note:
            result.notes.insert(0, plan.range_note)
        _report(result, plan.fmt, extra, plan.summary_path)
        sys.exit(result.exit_code)


def _report(result: Any, fmt: str, extra: list[tuple[str, str]], summary_path: str | None) -> None:
    """Print the report, write every -o file and GitHub's job summary."""
    from agentpolicy.report import render_check

    echo(
        render_check(result, fmt, color=fmt == "text" and use_color(sys.stdout.isatty())),
        nl=False,
        runner_safe=fmt == "github",
    )
    for name, path in extra:
        write_report(path, render_check(result, name))
    if summary_path:
        from agentpolicy.report.github import step_summary

        with open(summary_path, "a", encoding="utf-8", errors="backslashreplace") as handle:
            handle.write(step_summary(result))


CHECK_FORMATS = ("text", "json", "github", "sarif", "junit", "gitlab")


@contextlib.contextmanager
def _ci_stop_to_runner(active: bool) -> Iterator[None]:
    """When `--ci` cannot run on GitHub Actions, say so where a reviewer looks: an ::error
    annotation (whatever --format) and a line in the job summary. The exit status stays 2."""
    from agentpolicy.errors import AgentPolicyError

    try:
        yield
    except (AgentPolicyError, click.UsageError) as exc:
        if active and os.environ.get("GITHUB_ACTIONS") == "true":
            from agentpolicy.report.github import stop_annotation, stop_summary

            if isinstance(exc, AgentPolicyError):
                message, hint = error_text(exc).partition("\n  fix: ")[::2]
            else:
                message, hint = exc.format_message(), "see agentpolicy check --help"
            click.echo(stop_annotation(message, hint), err=True, nl=False)
            summary = os.environ.get("GITHUB_STEP_SUMMARY")
            if summary:
                with (
                    contextlib.suppress(OSError),
                    open(summary, "a", encoding="utf-8", errors="backslashreplace") as handle,
                ):
                    handle.write(stop_summary(message, hint))
        raise
