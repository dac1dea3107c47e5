"""One agent's autonomy boundary as approved in git, and the one answer it gives: may it act?

`decide` is the runtime twin of the reviewed file: an action listed under
`autonomous` is allowed, one under `requires_confirmation` needs a person, and
anything else (an unknown action, any action of a retired agent) is denied.
The exported OPA policy and the conformance check give the same answers.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Literal

Decision = Literal["allow", "confirm", "deny"]
ALLOW: Decision = "allow"
CONFIRM: Decision = "confirm"
DENY: Decision = "deny"

FORMAT_VERSION = 1
MAX_FILE_BYTES = 16 * 1024 * 1024  # an exported boundary is a few kilobytes


class BoundaryError(ValueError):
    """An exported boundary that cannot be read: missing, too large, or not our format."""


class UnapprovedBoundary(BoundaryError):
    """The agent's current content is not approved (pass ``allow_unapproved=True`` to use it anyway)."""


@dataclass(frozen=True)
class Action:
    action: str
    irreversible: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "irreversible": self.irreversible}


@dataclass(frozen=True)
class Approval:
    reviewer: str  # "Name <email>"
    decision: str
    timestamp: str

    def to_json(self) -> dict[str, Any]:
        return {"reviewer": self.reviewer, "decision": self.decision, "timestamp": self.timestamp}


@dataclass(frozen=True)
class Boundary:
    """What an agent may do alone, as approved at ``commit`` (``approved`` is the judge's verdict)."""

    agent: str
    version: str
    stage: str
    digest: str
    commit: str
    approved: bool
    approvals: tuple[Approval, ...] = ()
    autonomous: tuple[Action, ...] = ()
    requires_confirmation: tuple[Action, ...] = ()
    _table: dict[str, tuple[Decision, bool]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        table: dict[str, tuple[Decision, bool]] = {}
        if self.stage != "retired":
            for entry in self.autonomous:
                table[entry.action] = (ALLOW, entry.irreversible)
            for entry in self.requires_confirmation:  # listed on both sides: the stricter side wins
                table[entry.action] = (
                    CONFIRM,
                    entry.irreversible or table.get(entry.action, (DENY, False))[1],
                )
        object.__setattr__(self, "_table", table)

    def decide(self, action: object) -> Decision:
        """``"allow"``, ``"confirm"`` or ``"deny"`` for one action id (exact, case-sensitive match)."""
        if not isinstance(action, str):
            return DENY
        return self._table.get(action, (DENY, False))[0]

    def irreversible(self, action: str) -> bool:
        """True when the boundary marks ``action`` irreversible (on either side)."""
        return self._table.get(action, (DENY, False))[1]

    # -- the exported document (docs/json.md, "agentpolicy export --format boundary") ------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "agent": self.agent,
            "version": self.version,
            "stage": self.stage,
            "digest": self.digest,
            "commit": self.commit,
            "approved": self.approved,
            "approvals": [approval.to_json() for approval in self.approvals],
            "autonomous": [entry.to_json() for entry in self.autonomous],
            "requires_confirmation": [entry.to_json() for entry in self.requires_confirmation],
        }

    @classmethod
    def from_json(cls, document: object) -> Boundary:
        """A boundary from its exported JSON object; keys we do not know are ignored (added later)."""
        if not isinstance(document, dict):
            raise BoundaryError("a boundary is a JSON object")
        if (
            document.get("format_version") != FORMAT_VERSION
            or type(document.get("format_version")) is not int
        ):
            raise BoundaryError(f"unsupported format_version {document.get('format_version')!r} (expected 1)")
        text = {key: _string(document, key) for key in ("agent", "version", "stage", "digest", "commit")}
        approved = document.get("approved")
        if not isinstance(approved, bool):
            raise BoundaryError("`approved` must be true or false")
        return cls(
            approved=approved,
            approvals=tuple(_approval(item) for item in _list(document, "approvals")),
            autonomous=tuple(_action(item) for item in _list(document, "autonomous")),
            requires_confirmation=tuple(_action(item) for item in _list(document, "requires_confirmation")),
            **text,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str], agent: str | None = None) -> Boundary:
        """Read an exported boundary file (`agentpolicy export AGENT --format boundary`).

        A file of several agents (an array) needs ``agent`` to say which one.
        """
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise BoundaryError(f"cannot read {os.fspath(path)}: {exc.strerror}") from exc
        if len(raw) > MAX_FILE_BYTES:
            raise BoundaryError(f"{os.fspath(path)} is larger than {MAX_FILE_BYTES} bytes: not a boundary")
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise BoundaryError(f"{os.fspath(path)} is not JSON: {exc}") from exc
        candidates = document if isinstance(document, list) else [document]
        boundaries = [cls.from_json(item) for item in candidates]
        chosen = [b for b in boundaries if agent is None or b.agent == agent]
        if len(chosen) != 1:
            names = ", ".join(repr(b.agent) for b in boundaries)
            wanted = f"agent {agent!r}" if agent else "one agent"
            raise BoundaryError(f"{os.fspath(path)} holds {names or 'no agent'}; expected {wanted}")
        return chosen[0]

    @classmethod
    def from_repo(
        cls,
        path: str | os.PathLike[str],
        agent: str,
        rev: str = "HEAD",
        *,
        allow_unapproved: bool = False,
    ) -> Boundary:
        """The boundary of ``agent`` at ``rev`` in the repository at ``path``, with the judge's verdict.

        Raises `UnapprovedBoundary` when that content is not approved, unless ``allow_unapproved``;
        repository problems raise `agentpolicy.errors.AgentPolicyError`.
        """
        from agentpolicy.export.source import repo_boundaries

        boundary = repo_boundaries(os.fspath(path), [agent], rev)[0]
        if not boundary.approved and not allow_unapproved:
            raise UnapprovedBoundary(
                f"{agent} {boundary.version} at {rev} is not approved (digest {boundary.digest})"
            )
        return boundary

    @classmethod
    def from_agent_data(
        cls, data: dict[str, Any], *, commit: str, approved: bool, approvals: tuple[Approval, ...] = ()
    ) -> Boundary:
        """The boundary an agent definition declares. Entries that are not ``{action: <text>}`` are
        left out, so they are denied: a malformed file can narrow the boundary, never widen it."""
        from agentpolicy.model.digest import agent_digest

        autonomy = data.get("autonomy")
        sides = autonomy if isinstance(autonomy, dict) else {}
        return cls(
            agent=str(data.get("name", "")),
            version=str(data.get("version", "")),
            stage=str(data.get("stage", "")),
            digest=agent_digest(data),
            commit=commit,
            approved=approved,
            approvals=approvals,
            autonomous=_declared(sides.get("autonomous")),
            requires_confirmation=_declared(sides.get("requires_confirmation")),
        )


def _declared(items: object) -> tuple[Action, ...]:
    if not isinstance(items, list):
        return ()
    found = {
        item["action"]: Action(item["action"], item.get("irreversible") is True)
        for item in items
        if isinstance(item, dict) and isinstance(item.get("action"), str)
    }
    return tuple(found[name] for name in sorted(found))


def _string(document: dict[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str):
        raise BoundaryError(f"`{key}` must be a string")
    return value


def _list(document: dict[str, Any], key: str) -> list[Any]:
    value = document.get(key)
    if not isinstance(value, list):
        raise BoundaryError(f"`{key}` must be a list")
    return value


def _action(item: object) -> Action:
    if not isinstance(item, dict) or not isinstance(item.get("action"), str):
        raise BoundaryError("each action is an object with a string `action`")
    irreversible = item.get("irreversible", False)
    if not isinstance(irreversible, bool):
        raise BoundaryError("`irreversible` must be true or false")
    return Action(item["action"], irreversible)


def _approval(item: object) -> Approval:
    if not isinstance(item, dict):
        raise BoundaryError("each approval is an object")
    return Approval(_string(item, "reviewer"), _string(item, "decision"), _string(item, "timestamp"))
