"""Declarative rules: a JSON Schema `when` selects agents, a JSON Schema `require` judges them.

JSON Schema is the policy language so that organisations write rules in a
format their editors already understand; nothing here is a new DSL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from agentpolicy.model.document import Document, Finding, JsonPath
from agentpolicy.model.fastschema import fast_validator, strict_validator
from agentpolicy.model.schemas import load_checked_yaml
from agentpolicy.rules import RuleInfo


@dataclass(frozen=True)
class DeclarativeRule:
    info: RuleInfo
    when: Any
    require: Any
    severity_by_stage: dict[str, str]
    at: JsonPath
    each: JsonPath = ()
    each_when: Any = None

    def severity_for(self, data: dict[str, Any]) -> str:
        stage = data.get("stage")
        if isinstance(stage, str) and stage in self.severity_by_stage:
            return self.severity_by_stage[stage]
        return self.info.severity

    def check(self, document: Document) -> Iterator[Finding]:
        data = document.data
        if not isinstance(data, dict):
            return
        if self.when is not None and not matches_schema(self.when, data):
            return
        severity = self.severity_for(data)
        if severity == "off":
            return
        fast = fast_validator(self.require)
        if fast is not None and fast(data):
            return
        _, require = _compiled(self.info.id, self.info.source, self.when, self.require)
        error = next(iter(require.iter_errors(data)), None)
        if error is None:
            return
        agent = str(data.get("name", ""))
        if self.each:
            for index, item in self._matching_items(data):
                line, column = document.position((*self.each, index))
                yield self._finding(document, line, column, severity, agent, item)
            return
        path: JsonPath = self.at or tuple(error.absolute_path)
        line, column = document.position(path)
        yield self._finding(document, line, column, severity, agent, None)

    def _matching_items(self, data: dict[str, Any]) -> Iterator[tuple[int, Any]]:
        """The items of the list at `each` that `each_when` selects (all of them without it)."""
        items: Any = data
        for part in self.each:
            items = items.get(part) if isinstance(items, dict) else None
        if not isinstance(items, list):
            return
        for index, item in enumerate(items):
            if self.each_when is None or matches_schema(self.each_when, item):
                yield index, item

    def _finding(
        self, document: Document, line: int, column: int, severity: str, agent: str, item: Any
    ) -> Finding:
        return Finding(
            path=document.path,
            line=line,
            column=column,
            rule=self.info.id,
            severity=severity,
            message=_fill(self.info.message, item),
            hint=_fill(self.info.hint, item),
            agent=agent,
        )


_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def _fill(text: str, item: Any) -> str:
    """`{field}` in a rule's message names that field of the item a finding is about; only
    plain text values of a mapping item are filled in, anything else stays as written."""
    if not isinstance(item, dict):
        return text

    def value(match: re.Match[str]) -> str:
        found = item.get(match[1])
        return found if isinstance(found, str) else match[0]

    return _PLACEHOLDER.sub(value, text)


_COMPILED: dict[tuple[str, str], tuple[Any, Any]] = {}


def matches_schema(schema: Any, data: Any) -> bool:
    fast = fast_validator(schema)
    if fast is not None:
        return fast(data)
    return bool(strict_validator(schema).is_valid(data))


def _compiled(rule_id: str, source: str, when: Any, require: Any) -> tuple[Any, Any]:
    key = (rule_id, source)
    if key not in _COMPILED:
        _COMPILED[key] = (
            None if when is None else strict_validator(when),
            strict_validator(require),
        )
    return _COMPILED[key]


def load_rule(path: str, raw: bytes, source: str) -> DeclarativeRule:
    """Parse and validate one rule file; a broken rule is a configuration error."""
    data = load_checked_yaml(path, raw, "rule", "rule")
    at = tuple(part for part in str(data.get("at", "")).split("/") if part)
    each = tuple(part for part in str(data.get("each", "")).split("/") if part)
    info = RuleInfo(
        id=data["id"],
        name=data.get("name", data["id"].lower()),
        severity=data["severity"],
        message=data["message"],
        hint=data["hint"],
        description=" ".join(str(data.get("description", data["message"])).split()),
        source=source,
    )
    return DeclarativeRule(
        info,
        data.get("when"),
        data["require"],
        data.get("severity_by_stage", {}),
        at,
        each,
        data.get("each_when"),
    )


def builtin_declarative_rules() -> tuple[DeclarativeRule, ...]:
    from agentpolicy.rules.packs import builtin_pack

    return builtin_pack().rules
