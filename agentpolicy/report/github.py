"""GitHub Actions workflow commands (annotations on the diff) and the job summary."""

from __future__ import annotations

from agentpolicy.report import text
from agentpolicy.result import CheckResult

# GitHub shows at most this many annotations of each level for one step.
GITHUB_LIMIT = 10


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def render(result: CheckResult) -> str:
    lines = [f"::notice title=agentpolicy::{escape_data(note)}" for note in result.notes]
    counts = {"error": 0, "warning": 0, "notice": 0}
    for finding in result.findings:
        level = "notice" if finding.waived else "error" if finding.severity == "error" else "warning"
        counts[level] += 1
        properties = ",".join(
            f"{key}={escape_property(str(value))}"
            for key, value in (
                ("file", finding.path),
                ("line", finding.line),
                ("col", finding.column),
                ("title", finding.rule),
            )
        )
        message = ("(waived) " if finding.waived else "") + finding.message
        message += f"\nfix: {finding.hint}" if finding.hint else ""
        lines.append(f"::{level} {properties}::{escape_data(message)}")
    for level, count in counts.items():
        if count > GITHUB_LIMIT:
            lines.append(
                f"::notice title=agentpolicy::{count} {level}s found; GitHub shows only {GITHUB_LIMIT} "
                "annotations of each level per step. The full list is in the job summary."
            )
    lines.append(text.render(result).rstrip("\n"))
    return "\n".join(lines) + "\n"


def step_summary(result: CheckResult) -> str:
    """Markdown for $GITHUB_STEP_SUMMARY: the agents changed, their approvals, every finding."""
    parts = ["## agentpolicy", ""]
    verdict = "failed" if result.exit_code else "passed"
    parts.append(f"Check **{verdict}**: {result.errors} error(s), {result.warnings} warning(s).")
    if result.changes:
        parts += ["", "| agent | change | version | review needed | approved by |", "|---|---|---|---|---|"]
        for change in result.changes:
            version = " -> ".join(v for v in (change.before_version, change.after_version) if v)
            needed = f"yes ({change.approvals_required})" if change.needs_review else "no"
            approved = ", ".join(change.approved_by) or ("-" if not change.needs_review else "**none**")
            parts.append(
                f"| {change.agent} | {', '.join(change.kinds)} | {version} | {needed} | {approved} |"
            )
    if result.findings:
        parts += ["", "| file | line | severity | rule | message |", "|---|---|---|---|---|"]
        for finding in result.findings:
            message = finding.message.replace("|", "\\|")
            parts.append(
                f"| {finding.path} | {finding.line} | {finding.severity} | {finding.rule} | {message} |"
            )
    return "\n".join(parts) + "\n"
