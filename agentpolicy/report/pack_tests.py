"""The text report of `agentpolicy test`: one line per example, the failures' findings, a total.

Pack sources, example paths and patterns come from the packs (possibly someone else's):
each line is shown with its hidden characters escaped.
"""

from __future__ import annotations

from agentpolicy.report.safe import visible
from agentpolicy.results.pack_tests import PackTestRun
from agentpolicy.rules.pack_testing import ExampleResult


def render_pack_tests(runs: list[PackTestRun]) -> str:
    lines = []
    for run in runs:
        for warning in run.warnings:
            shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in warning.pattern)
            lines.append(
                f"warning  {warning.source}: pattern {shown} at {warning.pointer} can take "
                f"super-linear time on a hostile value: {warning.reason}"
            )
        if not run.examples:
            lines.append(visible(f"{run.source}: no examples (add tests/pass/*.yaml and tests/fail/*.yaml)"))
        for example in run.examples:
            lines.extend(visible(line) for line in _example_lines(run.source, example))
    total = sum(len(run.examples) for run in runs)
    bad = sum(run.misbehaving for run in runs)
    lines.append(f"{total} example(s), {bad} misbehaving.")
    return "\n".join(lines) + "\n"


def _example_lines(source: str, example: ExampleResult) -> list[str]:
    if example.ok:
        return [f"ok    {source}: {example.path} (expected to {example.expected})"]
    if example.expected != "pass":
        return [f"FAIL  {source}: {example.path} should fail, but no rule of the pack flags it"]
    found = [f"FAIL  {source}: {example.path} should pass but gives:"]
    for finding in example.errors:
        where = f"{finding.path}:{finding.line}:{finding.column}"
        found.append(f"        {where}: {finding.rule} {finding.message}")
    return found
