"""The semantic diff: what changed about each agent, matched by name, between two snapshots."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from agentpolicy.model.digest import digest_of, governed_content
from agentpolicy.model.document import Document, JsonPath

CREATED = "created"
DELETED = "deleted"
RETIRED = "retired"
VERSION = "version-changed"
EXPANDED = "autonomy-expanded"
NARROWED = "autonomy-narrowed"
BOUNDARY = "autonomy-changed"
OWNER = "owner-changed"
STAGE = "stage-changed"
UNDO = "undo-changed"
CHANGE_CONTROL = "change-control-changed"
MOVED = "moved"
OTHER = "other-fields"


@dataclass(frozen=True)
class AgentState:
    """One agent as defined in one snapshot."""

    name: str
    document: Document

    @property
    def path(self) -> str:
        return self.document.path

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.document.data
        return data

    @cached_property
    def governed(self) -> dict[str, Any]:
        return governed_content(self.data)

    @cached_property
    def digest(self) -> str:
        return digest_of(self.governed)

    @property
    def version(self) -> str | None:
        version = self.data.get("version")
        return version if isinstance(version, str) else None


@dataclass
class AgentChange:
    """What happened to one agent; ``at`` is the field a finding should point at."""

    name: str
    before: AgentState | None
    after: AgentState | None
    kinds: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    at: JsonPath = ()

    @property
    def governed(self) -> bool:
        return bool(set(self.kinds) - {MOVED, OTHER})

    @property
    def expands_autonomy(self) -> bool:
        return EXPANDED in self.kinds or (CREATED in self.kinds and _autonomous(self.after))

    @property
    def retires(self) -> bool:
        return DELETED in self.kinds or RETIRED in self.kinds


def _actions(state: AgentState | None, side: str) -> dict[str, dict[str, Any]]:
    if state is None:
        return {}
    autonomy = state.data.get("autonomy")
    items = autonomy.get(side) if isinstance(autonomy, dict) else None
    if not isinstance(items, list):
        return {}
    return {
        item["action"]: item
        for item in items
        if isinstance(item, dict) and isinstance(item.get("action"), str)
    }


def _autonomous(state: AgentState | None) -> bool:
    return bool(_actions(state, "autonomous"))


def _action_path(state: AgentState, action: str) -> JsonPath:
    for side in ("autonomous", "requires_confirmation"):
        items = state.data.get("autonomy", {}).get(side) or []
        for index, item in enumerate(items):
            if isinstance(item, dict) and item.get("action") == action:
                return ("autonomy", side, index, "action")
    return ("autonomy",)


def _autonomy_diff(change: AgentChange, before: AgentState, after: AgentState) -> None:
    auto_before, auto_after = _actions(before, "autonomous"), _actions(after, "autonomous")
    confirm_before = _actions(before, "requires_confirmation")
    expanded, narrowed = [], []
    for action in auto_after.keys() - auto_before.keys():
        if action in confirm_before:
            expanded.append(f"{action} is now autonomous")
        else:
            expanded.append(f"new autonomous action {action}")
        change.at = change.at or _action_path(after, action)
    for action in auto_before.keys() - auto_after.keys():
        narrowed.append(f"{action} is no longer autonomous")
    every_after = {**_actions(after, "requires_confirmation"), **auto_after}
    every_before = {**confirm_before, **auto_before}
    for action, item in every_after.items():
        was = every_before.get(action)
        if was is not None and was.get("irreversible") is True and item.get("irreversible") is not True:
            expanded.append(f"{action} is no longer marked irreversible")
            change.at = change.at or _action_path(after, action)
    if expanded:
        change.kinds.append(EXPANDED)
        change.details.extend(sorted(expanded))
    if narrowed:
        change.kinds.append(NARROWED)
        change.details.extend(sorted(narrowed))
    if not expanded and not narrowed:
        change.kinds.append(BOUNDARY)
        change.at = change.at or ("autonomy",)


def compare(name: str, before: AgentState | None, after: AgentState | None) -> AgentChange | None:
    """The change for one agent name, or None when nothing at all changed."""
    change = AgentChange(name, before, after)
    if before is None and after is not None:
        change.kinds.append(CREATED)
        change.at = ("name",)
        if after.data.get("stage") == "retired":
            change.kinds.append(RETIRED)
        return change
    if after is None and before is not None:
        change.kinds.append(DELETED)
        return change
    assert before is not None and after is not None
    old, new = before.governed, after.governed

    def differs(key: str) -> bool:
        # As the digest's canonical form compares, not Python's ==: 2 == 2.0 == True there, not here.
        left, right = old.get(key), new.get(key)
        return left != right or not same_json(left, right)  # `!=` in C first: most fields differ plainly

    if before.digest == after.digest:
        if before.path != after.path:
            change.kinds.append(MOVED)
        elif _exact(before.document.data) != _exact(after.document.data):
            change.kinds.append(OTHER)
        return change if change.kinds else None
    if differs("autonomy"):
        _autonomy_diff(change, before, after)
    if differs("version"):
        change.kinds.insert(0, VERSION)
        change.at = change.at or ("version",)
    if differs("owner"):
        change.kinds.append(OWNER)
        change.at = change.at or ("owner",)
    if differs("stage"):
        change.kinds.append(RETIRED if new.get("stage") == "retired" else STAGE)
        change.details.append(f"stage {old.get('stage')} -> {new.get('stage')}")
        change.at = change.at or ("stage",)
    if differs("undo"):
        change.kinds.append(UNDO)
        change.at = change.at or ("undo",)
    if differs("change_control"):
        change.kinds.append(CHANGE_CONTROL)
        change.at = change.at or ("change_control",)
    if before.path != after.path:
        change.kinds.append(MOVED)
    if not change.governed:
        change.kinds.insert(0, CHANGE_CONTROL)  # a governed difference no kind above names
        change.at = change.at or ("change_control",)
    return change


def same_json(left: Any, right: Any) -> bool:
    """Equal exactly as canonical JSON would be (types included), without serialising both sides."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(same_json(left[key], right[key]) for key in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(same_json(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, float):
        return repr(left) == repr(right)
    return bool(left == right)


def _exact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)


_SIGNIFICANCE = (
    CREATED,
    DELETED,
    RETIRED,
    EXPANDED,
    NARROWED,
    BOUNDARY,
    STAGE,
    OWNER,
    VERSION,
    UNDO,
    CHANGE_CONTROL,
    MOVED,
    OTHER,
)


def primary_kind(kinds: list[str]) -> str:
    """The one word that best names a change, for one-line summaries."""
    return min(kinds, key=_SIGNIFICANCE.index) if kinds else OTHER


def diff_agents(before: dict[str, AgentState], after: dict[str, AgentState]) -> list[AgentChange]:
    changes = []
    for name in sorted(before.keys() | after.keys()):
        change = compare(name, before.get(name), after.get(name))
        if change is not None:
            change.kinds = list(dict.fromkeys(change.kinds))
            changes.append(change)
    return changes
