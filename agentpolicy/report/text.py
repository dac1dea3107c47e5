"""Human text in the style of ruff and flake8: `path:line:col: severity RULE message`."""

from __future__ import annotations

from agentpolicy.files.snapshot import display_path
from agentpolicy.report.safe import visible
from agentpolicy.results.check import CheckResult

_STYLES = {"error": "\x1b[31;1m", "warning": "\x1b[33;1m", "dim": "\x1b[2m", "reset": "\x1b[0m"}


def _paint(text: str, style: str, color: bool) -> str:
    return f"{_STYLES[style]}{text}{_STYLES['reset']}" if color else text


def render(result: CheckResult, *, color: bool = False) -> str:
    lines = [f"note: {visible(note)}" for note in result.notes]
    for finding in result.findings:
        severity = _paint(finding.severity, finding.severity, color)
        if finding.waived:
            severity = _paint(f"waived {finding.severity}", "dim", color)
        lines.append(
            f"{visible(display_path(finding.path))}:{finding.line}:{finding.column}: {severity} "
            f"{visible(finding.rule)} {visible(finding.message)}"
        )
        if finding.hint:
            lines.append(_paint(f"    fix: {visible(finding.hint)}", "dim", color))
    lines.append(_summary(result))
    return "\n".join(lines) + "\n"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _summary(result: CheckResult) -> str:
    files = _plural(result.files_checked, "agent file")
    if result.waived:
        files += f", {result.waived} waived"
    changes = f", {_plural(len(result.changes), 'governed change')}" if result.changes else ""
    if not result.errors and not result.warnings:
        return f"All checks passed ({files} checked{changes})."
    verdict = "Failed" if result.errors else "Passed with warnings"
    return (
        f"{verdict}: {_plural(result.errors, 'error')}, {_plural(result.warnings, 'warning')} "
        f"({files} checked{changes})."
    )
