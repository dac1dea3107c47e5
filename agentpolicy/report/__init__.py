"""Reporters turn a result into text; each format is one module with a ``render`` function."""

from __future__ import annotations

CHECK_FORMATS = ("text", "json")


def render_check(result: object, fmt: str, *, color: bool = False) -> str:
    from agentpolicy.result import CheckResult

    assert isinstance(result, CheckResult)
    if fmt == "json":
        from agentpolicy.report import json_report

        return json_report.render(result)
    from agentpolicy.report import text

    return text.render(result, color=color)
