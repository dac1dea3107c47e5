"""`agentpolicy test`: run a pack's own examples, like `conftest verify`.

Every `tests/pass/*.yaml` must give no error from the pack's rules, and every
`tests/fail/*.yaml` at least one, so a rule that stops matching (or starts
matching everything) is caught before it guards a real repository.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentpolicy.model.document import ERROR, Finding
from agentpolicy.model.pattern_safety import backtracking_risk, schema_patterns
from agentpolicy.rules.config import Config
from agentpolicy.rules.engine import check_loaded, load_agent
from agentpolicy.rules.packs import Pack, builtin_pack
from agentpolicy.rules.schema_rule import check_schema


@dataclass
class ExampleResult:
    pack: str
    path: str
    expected: str  # "pass" or "fail"
    errors: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.errors if self.expected == "pass" else bool(self.errors)


def _errors_from_pack(pack: Pack, path: str, raw: bytes, expected: str) -> list[Finding]:
    loaded = load_agent(path, raw)
    if pack is builtin_pack():
        return [f for f in check_loaded([loaded], Config()) if f.severity == ERROR]
    if loaded.document is None:
        return list(loaded.findings)  # a broken example is reported, never silently passed
    # A passing example must also be a valid agent, or it proves nothing; a failing
    # example must fail because of this pack's rules, not because it is malformed.
    findings = list(check_schema(loaded.document)) if expected == "pass" else []
    for rule in pack.rules:
        findings.extend(rule.check(loaded.document))
    return [f for f in findings if f.severity == ERROR]


def run_pack_examples(pack: Pack) -> list[ExampleResult]:
    results = []
    for expected, examples in (("pass", pack.passing), ("fail", pack.failing)):
        for path, raw in examples:
            results.append(
                ExampleResult(pack.source, path, expected, _errors_from_pack(pack, path, raw, expected))
            )
    return results


@dataclass(frozen=True)
class PatternWarning:
    """A pattern in a pack whose shape can backtrack super-linearly on a hostile value."""

    source: str  # the rule file, or the pack's pack.yaml
    pointer: str
    pattern: str
    reason: str


def pattern_warnings(pack: Pack) -> list[PatternWarning]:
    """Every pattern of the pack's rules and gate policy that `backtracking_risk` recognises."""
    schemas = [
        (rule.info.source, f"/{part}", schema)
        for rule in pack.rules
        for part, schema in (("when", rule.when), ("require", rule.require))
    ]
    schemas += [
        (policy.source, f"/approvals/{i}/when", policy.when) for i, policy in enumerate(pack.approvals)
    ]
    warnings = []
    for source, where, schema in schemas:
        for pointer, pattern in schema_patterns(schema, where):
            reason = backtracking_risk(pattern)
            if reason:
                warnings.append(PatternWarning(source, pointer, pattern, reason))
    return warnings
