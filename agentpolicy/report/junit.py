"""JUnit XML: one test case per agent and rule, named `agent::RULE`, as CI test reporters expect."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from agentpolicy.model.document import Finding
from agentpolicy.report.safe import xml_text
from agentpolicy.results.check import CheckResult


def _subject(finding: Finding) -> str:
    return finding.agent or finding.path


def _line(finding: Finding, prefix: str = "") -> str:
    where = f"{xml_text(finding.path)}:{finding.line}:{finding.column}"
    text = f"{prefix}{where}: {xml_text(finding.message)}"
    return text + (f"\nfix: {xml_text(finding.hint)}" if prefix == "" else "")


def render(result: CheckResult) -> str:
    rule_ids = [rule.id for rule in result.rules()]
    by_case: dict[tuple[str, str], list[Finding]] = {}
    subjects: dict[str, str] = {}
    for finding in result.findings:
        by_case.setdefault((_subject(finding), finding.rule), []).append(finding)
        subjects.setdefault(_subject(finding), finding.path)
    for change in result.changes:
        subjects.setdefault(change.agent, change.path)
    for agent, path in result.agents.items():
        subjects.setdefault(agent, path)
    suites = ET.Element("testsuites", name="agentpolicy")
    total = failures = 0
    for subject in sorted(subjects):
        shown, file = xml_text(subject), xml_text(subjects[subject])
        suite = ET.SubElement(suites, "testsuite", name=shown, file=file)
        cases = failed = 0
        ids = sorted(set(rule_ids) | {rule for (who, rule) in by_case if who == subject})
        for rule_id in ids:
            case = ET.SubElement(
                suite,
                "testcase",
                name=f"{shown}::{xml_text(rule_id)}",
                classname=f"agentpolicy.{shown}",
                file=file,
            )
            cases += 1
            found = [f for f in by_case.get((subject, rule_id), []) if f.severity == "error" and not f.waived]
            warnings = [f for f in by_case.get((subject, rule_id), []) if f.severity != "error" or f.waived]
            if found:
                failed += 1
                failure = ET.SubElement(
                    case, "failure", message=xml_text(found[0].message), type=xml_text(rule_id)
                )
                failure.text = "\n".join(_line(f) for f in found)
            elif warnings:
                out = ET.SubElement(case, "system-out")
                out.text = "\n".join(_line(f, "warning ") for f in warnings)
        suite.set("tests", str(cases))
        suite.set("failures", str(failed))
        suite.set("errors", "0")
        total, failures = total + cases, failures + failed
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    suites.set("errors", "0")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def render_tool_error(message: str) -> str:
    """A run that could not give a verdict is an <error>, never an empty, passing report."""
    suites = ET.Element("testsuites", name="agentpolicy", tests="1", failures="0", errors="1")
    suite = ET.SubElement(suites, "testsuite", name="agentpolicy", tests="1", failures="0", errors="1")
    case = ET.SubElement(suite, "testcase", name="agentpolicy::run", classname="agentpolicy")
    message = "\n".join(xml_text(line) for line in message.split("\n"))
    error = ET.SubElement(
        case, "error", message=message.splitlines()[0] if message else "error", type="ToolError"
    )
    error.text = message
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
