"""The canonical form of an agent's governed content, and its digest.

A review binds to this digest, so it must not move when only presentation
changes (key order, comments, quoting, line breaks inside prose, the order of
actions in a list) and must move when any governed value changes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GOVERNED_FIELDS = ("name", "version", "stage", "owner", "autonomy", "undo", "change_control")
_SIDES = ("autonomous", "requires_confirmation")


def _normal(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, dict):
        return {str(key): _normal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normal(item) for item in value]
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    return str(value)


def _normal_actions(items: Any) -> Any:
    if not isinstance(items, list):
        return _normal(items)
    actions = []
    for item in items:
        normal = _normal(item)
        if isinstance(normal, dict) and "irreversible" not in normal:
            normal["irreversible"] = False
        actions.append(normal)
    # Action ids are unique (AP102), so the id alone orders a valid list.
    return sorted(actions, key=lambda action: str(action.get("action")) if isinstance(action, dict) else "")


def governed_content(data: dict[str, Any]) -> dict[str, Any]:
    """The fields whose change needs a review, normalised."""
    content = {key: _normal(data[key]) for key in GOVERNED_FIELDS if key in data}
    autonomy = data.get("autonomy")
    if isinstance(autonomy, dict):
        content["autonomy"] = {
            key: (_normal_actions(value) if key in _SIDES else _normal(value))
            for key, value in autonomy.items()
        }
    return content


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest_of(value: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def agent_digest(data: dict[str, Any]) -> str:
    return digest_of(governed_content(data))
