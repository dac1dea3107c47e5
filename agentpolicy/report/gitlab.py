"""GitLab Code Quality report (a JSON list of issues)."""

from __future__ import annotations

import json

from agentpolicy.report.safe import json_text
from agentpolicy.report.sarif import fingerprint
from agentpolicy.results.check import CheckResult


def render(result: CheckResult) -> str:
    issues = [
        {
            "type": "issue",
            "check_name": finding.rule,
            "description": f"{finding.rule} {finding.message}",
            "content": {"body": f"Fix: {finding.hint}"} if finding.hint else None,
            "categories": ["Security"] if finding.rule.startswith(("AP2", "AP3")) else ["Style"],
            "fingerprint": fingerprint(finding),
            "severity": "info" if finding.waived else "critical" if finding.severity == "error" else "minor",
            "location": {"path": finding.path, "lines": {"begin": max(1, finding.line)}},
        }
        for finding in result.findings
    ]
    for issue in issues:
        if issue["content"] is None:
            del issue["content"]
    return json_text(json.dumps(issues, indent=2, ensure_ascii=False)) + "\n"
