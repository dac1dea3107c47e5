"""The stable JSON object (format_version 1). Later versions add keys, never change them."""

from __future__ import annotations

import json

from agentpolicy import __version__
from agentpolicy.report.safe import json_text
from agentpolicy.results.check import CheckResult

FORMAT_VERSION = 1


def render(result: CheckResult) -> str:
    payload = {
        "format_version": FORMAT_VERSION,
        "tool": {"name": "agentpolicy", "version": __version__},
        "mode": result.mode,
        "findings": [finding.to_json() for finding in result.findings],
        "changes": [change.to_json() for change in result.changes],
        "notes": result.notes,
        "trust_root": None
        if result.trust_root_approved is None
        else {"changed": True, "approved": result.trust_root_approved},
        "summary": {
            "errors": result.errors,
            "warnings": result.warnings,
            "waived": result.waived,
            "files_checked": result.files_checked,
            "exit_code": result.exit_code,
        },
    }
    return json_text(json.dumps(payload, indent=2, ensure_ascii=False)) + "\n"
