"""Reporters turn a result into text; each format is one module with a ``render`` function."""

from __future__ import annotations

from importlib import import_module

from agentpolicy.results.check import CheckResult

CHECK_FORMATS = ("text", "json", "github", "sarif", "junit", "gitlab")
_MODULES = {
    "text": "text",
    "json": "json_report",
    "github": "github",
    "sarif": "sarif",
    "junit": "junit",
    "gitlab": "gitlab",
}


def render_check(result: CheckResult, fmt: str, *, color: bool = False) -> str:
    module = import_module(f"agentpolicy.report.{_MODULES[fmt]}")
    if fmt == "text":
        return str(module.render(result, color=color))
    return str(module.render(result))
