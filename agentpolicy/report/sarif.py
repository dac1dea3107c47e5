"""SARIF 2.1.0 for code scanning, with fingerprints stable across runs."""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from typing import Any

from agentpolicy import __version__
from agentpolicy.files.filenames import path_bytes
from agentpolicy.model.document import Finding
from agentpolicy.report.rules_doc import rule_markdown
from agentpolicy.report.safe import json_text, sarif_text
from agentpolicy.results.check import CheckResult
from agentpolicy.rules import RuleInfo

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/agentpolicy/agentpolicy"


def _level(severity: str) -> str:
    return "error" if severity == "error" else "warning"


def fingerprint(finding: Finding) -> str:
    """Same finding, same fingerprint: rule, file, agent and message, never the line number
    (which moves when unrelated lines are edited)."""
    key = "\0".join((finding.rule, finding.path, finding.agent, finding.message))
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def artifact_uri(path: str) -> str:
    """A repository path as an RFC 3986 relative reference: the raw name's bytes, each one
    outside the unreserved set (space, %, #, ?, non-ASCII, bytes that are not UTF-8)
    percent-encoded, so code scanning opens exactly the file, and `/` kept as the separator."""
    return urllib.parse.quote(path_bytes(path), safe="/")


def _rule(rule: RuleInfo) -> dict[str, Any]:
    """Pack rules are repository text: the help's Markdown is rendered by code scanning."""
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.message},
        "fullDescription": {"text": rule.description},
        "help": {
            "text": f"{rule.description}\nFix: {rule.hint}",
            "markdown": (
                f"{rule_markdown(rule, rule.description)}\n\n**Fix:** {rule_markdown(rule, rule.hint)}"
            ),
        },
        "defaultConfiguration": {"level": _level(rule.severity)},
        "properties": {"source": rule.source},
    }


def render(result: CheckResult) -> str:
    rules = result.rules()
    index = {rule.id: number for number, rule in enumerate(rules)}
    results = []
    for finding in result.findings:
        entry: dict[str, Any] = {
            "ruleId": finding.rule,
            "level": _level(finding.severity),
            "message": {
                "text": sarif_text(finding.message + (f" (fix: {finding.hint})" if finding.hint else ""))
            },
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": artifact_uri(finding.path), "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": max(1, finding.line), "startColumn": max(1, finding.column)},
                    }
                }
            ],
            "partialFingerprints": {"agentpolicyFinding/v1": fingerprint(finding)},
        }
        if finding.rule in index:
            entry["ruleIndex"] = index[finding.rule]
        if finding.waived:
            entry["suppressions"] = [{"kind": "external", "justification": "waived in .agentpolicy.yaml"}]
        results.append(entry)
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "agentpolicy",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule(rule) for rule in rules],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The repository root."}}},
                "results": results,
                "invocations": [{"executionSuccessful": True, "exitCode": result.exit_code}],
            }
        ],
    }
    return json_text(json.dumps(log, indent=2, ensure_ascii=False)) + "\n"
