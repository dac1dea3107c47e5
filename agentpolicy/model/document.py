"""Plain values that flow between layers: findings and loaded documents."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ERROR = "error"
# The one spelling of an agent name (the agent schema's `name` pattern says the same)
AGENT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
WARNING = "warning"

Position = tuple[int, int]
JsonPath = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Finding:
    """One problem, sortable by place so every reporter prints a stable order."""

    path: str
    line: int
    column: int
    rule: str
    severity: str
    message: str
    hint: str = ""
    agent: str = ""
    waived: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "file": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "hint": self.hint,
            "agent": self.agent or None,
            "waived": self.waived,
        }


class Document:
    """A YAML file turned into plain data, with the position of every node.

    ``positions`` maps a JSON path (keys and list indexes) to the (line, column)
    of the value there, and ``key_positions`` to that of its key, so findings
    can point at the field a user has to edit. Files that load cleanly on the
    fast path keep only their text; positions are worked out the first time a
    finding asks for one, so a passing file never pays for them.
    """

    __slots__ = ("_key_positions", "_positions", "_raw_scalars", "_text", "data", "path")

    def __init__(self, path: str, data: Any, text: str | None = None) -> None:
        self.path = path
        self.data = data
        self._text = text
        self._positions: dict[JsonPath, Position] | None = None if text is not None else {}
        self._key_positions: dict[JsonPath, Position] = {}
        self._raw_scalars: dict[JsonPath, str] = {}

    def moved_to(self, path: str) -> Document:
        """The same content under another path (a rename), sharing the parsed data."""
        twin = Document(path, self.data, self._text)
        if self._positions is not None:
            twin._positions, twin._key_positions, twin._raw_scalars = (
                self._positions,
                self._key_positions,
                self._raw_scalars,
            )
        return twin

    def _located(self) -> None:
        if self._positions is None:
            from agentpolicy.model.yamlload import locate

            assert self._text is not None
            self._positions, self._key_positions, self._raw_scalars = locate(self._text)

    @property
    def positions(self) -> dict[JsonPath, Position]:
        self._located()
        assert self._positions is not None
        return self._positions

    @property
    def key_positions(self) -> dict[JsonPath, Position]:
        self._located()
        return self._key_positions

    @property
    def raw_scalars(self) -> dict[JsonPath, str]:
        self._located()
        return self._raw_scalars

    def position(self, json_path: JsonPath) -> Position:
        """The nearest known position at or above ``json_path`` (the key if known)."""
        positions, keys = self.positions, self.key_positions
        probe = tuple(json_path)
        while probe:
            if probe in keys:
                return keys[probe]
            if probe in positions:
                return positions[probe]
            probe = probe[:-1]
        return positions.get((), (1, 1))


@dataclass
class LoadResult:
    """A document, or the findings that explain why there is none."""

    document: Document | None
    findings: list[Finding] = field(default_factory=list)
