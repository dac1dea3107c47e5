"""GitHub Actions workflow commands (annotations on the diff) and the job summary.

Every string from the repository is neutralised for the runner (`report.safe`): the
only lines of this output that the runner reads as commands are our annotations.
"""

from __future__ import annotations

from agentpolicy.files.snapshot import display_path
from agentpolicy.report import text
from agentpolicy.report.safe import (
    github_data,
    github_log,
    github_property,
    markdown_text,
    visible,
    visible_lines,
)
from agentpolicy.results.check import CheckResult

# GitHub shows at most this many annotations of each level for one step.
GITHUB_LIMIT = 10

# Kept under their old names: the runner's escaping of a command's message and properties.
escape_data = github_data
escape_property = github_property


def render(result: CheckResult) -> str:
    lines = [f"::notice title=agentpolicy::{escape_data(visible(note))}" for note in result.notes]
    counts = {"error": 0, "warning": 0, "notice": 0}
    for finding in result.findings:
        level = "notice" if finding.waived else "error" if finding.severity == "error" else "warning"
        counts[level] += 1
        properties = ",".join(
            f"{key}={escape_property(value)}"
            for key, value in (
                ("file", visible(display_path(finding.path))),
                ("line", str(finding.line)),
                ("col", str(finding.column)),
                ("title", visible(finding.rule)),
            )
        )
        message = ("(waived) " if finding.waived else "") + visible(finding.message)
        message += f"\nfix: {visible(finding.hint)}" if finding.hint else ""
        lines.append(f"::{level} {properties}::{escape_data(message)}")
    for level, count in counts.items():
        if count > GITHUB_LIMIT:
            lines.append(
                f"::notice title=agentpolicy::{count} {level}s found; GitHub shows only {GITHUB_LIMIT} "
                "annotations of each level per step. The full list is in the job summary."
            )
    lines.append(github_log(text.render(result).rstrip("\n")))
    return "\n".join(lines) + "\n"


def step_summary(result: CheckResult) -> str:
    """Markdown for $GITHUB_STEP_SUMMARY: the agents changed, their approvals, every finding."""
    parts = ["## agentpolicy", ""]
    verdict = "failed" if result.exit_code else "passed"
    parts.append(f"Check **{verdict}**: {result.errors} error(s), {result.warnings} warning(s).")
    parts += [f"- {markdown_text(note)}" for note in result.notes[:1] if note.startswith("--ci: ")]
    if result.changes:
        parts += ["", "| agent | change | version | review needed | approved by |", "|---|---|---|---|---|"]
        for change in result.changes:
            version = " -> ".join(
                markdown_text(v) for v in (change.before_version, change.after_version) if v
            )
            needed = f"yes ({change.approvals_required})" if change.needs_review else "no"
            approved = markdown_text(", ".join(change.approved_by)) or (
                "-" if not change.needs_review else "**none**"
            )
            kinds = markdown_text(", ".join(change.kinds))
            parts.append(f"| {markdown_text(change.agent)} | {kinds} | {version} | {needed} | {approved} |")
    if result.findings:
        parts += ["", "| file | line | severity | rule | message |", "|---|---|---|---|---|"]
        for finding in result.findings:
            parts.append(
                f"| {markdown_text(display_path(finding.path))} | {finding.line} | {finding.severity} "
                f"| {markdown_text(finding.rule)} | {markdown_text(finding.message)} |"
            )
    return "\n".join(parts) + "\n"


def stop_annotation(message: str, hint: str) -> str:
    """The one ::error line for a check that could not run (exit status 2), with its fix."""
    text = visible_lines(message) + (f"\nfix: {visible_lines(hint)}" if hint else "")
    return f"::error title=agentpolicy::{escape_data(text)}\n"


def stop_summary(message: str, hint: str) -> str:
    """The job summary's line for a check that could not run: no verdict, and why."""
    text = f"## agentpolicy\n\nCheck **could not run** (exit status 2): {markdown_text(message)}\n"
    return text + (f"\nFix: {markdown_text(hint)}\n" if hint else "")
