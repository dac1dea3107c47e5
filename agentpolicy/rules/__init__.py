"""The rule registry: every rule, built-in Python or declarative, with one shape of metadata."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleInfo:
    """What a user needs to know about a rule; ``source`` says where it is defined."""

    id: str
    name: str
    severity: str
    message: str
    hint: str
    description: str
    source: str


PYTHON_SOURCE = "built-in (python)"


def python_rule(
    rule_id: str, name: str, severity: str, message: str, hint: str, description: str
) -> RuleInfo:
    """A rule implemented in Python (not expressible as a schema over one file)."""
    return RuleInfo(rule_id, name, severity, message, hint, description, PYTHON_SOURCE)


def all_rules() -> list[RuleInfo]:
    """Every rule of the built-in pack, sorted by id."""
    from agentpolicy.rules.catalog import PYTHON_RULES
    from agentpolicy.rules.declarative import builtin_declarative_rules

    rules = list(PYTHON_RULES.values()) + [rule.info for rule in builtin_declarative_rules()]
    return sorted(rules, key=lambda rule: rule.id)
