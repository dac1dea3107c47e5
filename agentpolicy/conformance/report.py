"""Conformance findings in every check format: the check's reporters, with a summary of our own."""

from __future__ import annotations

import json

from agentpolicy.conformance.judging import ConformanceResult


def render_conformance(result: ConformanceResult, fmt: str, *, color: bool = False) -> str:
    """``fmt`` is a check format; text and json say how many events were judged."""
    from agentpolicy.report import render_check
    from agentpolicy.report.safe import json_text

    text = render_check(result, fmt, color=color)
    if fmt == "text":
        return "".join(text.splitlines(keepends=True)[:-1]) + _summary(result) + "\n"
    if fmt == "json":
        payload = json.loads(text)
        payload["conformance"] = {"commit": result.commit or None, "events": result.events}
        return json_text(json.dumps(payload, indent=2, ensure_ascii=False)) + "\n"
    return text


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _summary(result: ConformanceResult) -> str:
    judged = f"{_plural(result.events, 'event')} in {_plural(result.files_checked, 'log')}"
    if not result.errors and not result.warnings:
        return f"All events conform ({judged})."
    return f"Failed: {_plural(result.errors, 'error')}, {_plural(result.warnings, 'warning')} ({judged})."
