"""Per-file rules that a JSON Schema cannot express: owner identity and action ids."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from agentpolicy.model.document import ERROR, Document, Finding, JsonPath
from agentpolicy.rules.catalog import PYTHON_RULES

_SIDES = ("autonomous", "requires_confirmation")


def _finding(document: Document, rule: str, at: JsonPath, message: str, hint: str = "") -> Finding:
    line, column = document.position(at)
    data = document.data if isinstance(document.data, dict) else {}
    name = data.get("name")
    return Finding(
        path=document.path,
        line=line,
        column=column,
        rule=rule,
        severity=ERROR,
        message=message,
        hint=hint or PYTHON_RULES[rule].hint,
        agent=name if isinstance(name, str) else "",
    )


def check_owner(document: Document, teams: Sequence[str]) -> Iterator[Finding]:
    data = document.data
    if not isinstance(data, dict) or "owner" not in data:
        return
    owner = data["owner"]
    if not isinstance(owner, dict):
        return  # the schema reports lists, handles and plain strings (see schema_rule)
    team_addresses = {team.strip().lower() for team in teams}
    for key in ("name", "email"):
        value = owner.get(key)
        if not isinstance(value, str):
            continue
        if value.startswith("@"):
            yield _finding(
                document,
                "AP101",
                ("owner", key),
                f"owner is a team ({value}): name one accountable person",
            )
        elif value.strip().lower() in team_addresses:
            yield _finding(
                document,
                "AP101",
                ("owner", key),
                f"owner {key} {value} is listed as a team in .agentpolicy.yaml: name one accountable person",
            )


def _actions(data: dict[str, Any]) -> Iterator[tuple[str, int, str]]:
    autonomy = data.get("autonomy")
    if not isinstance(autonomy, dict):
        return
    for side in _SIDES:
        items = autonomy.get(side)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if isinstance(item, dict) and isinstance(item.get("action"), str):
                yield side, index, item["action"]


def check_actions(document: Document) -> Iterator[Finding]:
    data = document.data
    if not isinstance(data, dict):
        return
    first: dict[str, tuple[str, int]] = {}
    for side, index, action in _actions(data):
        at = ("autonomy", side, index, "action")
        if action not in first:
            first[action] = (side, index)
            continue
        first_side, first_index = first[action]
        first_line, _ = document.position(("autonomy", first_side, first_index, "action"))
        if first_side == side:
            yield _finding(
                document,
                "AP102",
                at,
                f"action {action!r} is listed twice in `{side}` (first on line {first_line})",
            )
        else:
            yield _finding(
                document,
                "AP103",
                at,
                f"action {action!r} is both autonomous and requires confirmation (also on line {first_line})",
            )
