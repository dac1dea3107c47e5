"""The document a machine format prints when the run could give no verdict (exit 2).

Why: a CI step that parses stdout as JSON, SARIF, Code Quality or JUnit would
otherwise meet an empty stream and fail with a parser error that says nothing
about the cause. Each format gets a valid document of its own kind that states
the error (message and fix); stderr keeps the human message.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from agentpolicy import __version__
from agentpolicy.report.safe import json_text

MACHINE_FORMATS = ("json", "sarif", "gitlab", "junit")


# What each command's JSON holds besides `error`, empty: a consumer reading the usual keys finds them
EMPTY_JSON: dict[str, dict[str, Any]] = {
    "check": {
        "findings": [],
        "changes": [],
        "notes": [],
        "summary": {"errors": 0, "warnings": 0, "waived": 0, "files_checked": 0, "exit_code": 2},
    },
    "audit": {"notes": [], "summary": {"events": 0, "unapproved": 0, "commits_walked": 0}, "events": []},
    "status": {"agents": []},
    "inventory": {"summary": {}, "repositories": [], "agents": []},
}


def render_tool_error(fmt: str, message: str, hint: str, exit_code: int = 2, command: str = "check") -> str:
    if fmt == "json":
        return _json(message, hint, exit_code, command)
    if fmt == "sarif":
        return _sarif(message, hint, exit_code)
    if fmt == "gitlab":
        return _gitlab(message, hint)
    from agentpolicy.report.junit import render_tool_error as junit_error

    return junit_error(message + (f"\n  fix: {hint}" if hint else ""))


def _dump(document: Any) -> str:
    return json_text(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"


def _json(message: str, hint: str, exit_code: int, command: str) -> str:
    """The command's JSON shape (docs/json.md) with `error` set and nothing in it."""
    return _dump(
        {
            "format_version": 1,
            "tool": {"name": "agentpolicy", "version": __version__},
            "error": {"message": message, "hint": hint, "exit_code": exit_code},
            **EMPTY_JSON.get(command, {}),
        }
    )


def _sarif(message: str, hint: str, exit_code: int) -> str:
    """A SARIF log whose one run did not execute successfully, with the error as a notification."""
    from agentpolicy.report.sarif import INFORMATION_URI, SCHEMA

    text = message + (f" (fix: {hint})" if hint else "")
    return _dump(
        {
            "$schema": SCHEMA,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "agentpolicy",
                            "version": __version__,
                            "informationUri": INFORMATION_URI,
                        }
                    },
                    "invocations": [
                        {
                            "executionSuccessful": False,
                            "exitCode": exit_code,
                            "toolExecutionNotifications": [{"level": "error", "message": {"text": text}}],
                        }
                    ],
                    "results": [],
                }
            ],
        }
    )


def _gitlab(message: str, hint: str) -> str:
    """Code Quality has no run-level error: one blocker issue that says the check could not run."""
    issue = {
        "type": "issue",
        "check_name": "agentpolicy-error",
        "description": f"agentpolicy could not run: {message}",
        "content": {"body": f"Fix: {hint}"} if hint else {"body": "see the job log"},
        "categories": ["Bug Risk"],
        "fingerprint": hashlib.sha256(f"agentpolicy-error\0{message}".encode()).hexdigest()[:32],
        "severity": "blocker",
        "location": {"path": ".agentpolicy.yaml", "lines": {"begin": 1}},
    }
    return _dump([issue])
