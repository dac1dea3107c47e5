"""Plain values that flow between layers: findings and loaded documents."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)

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
        }


@dataclass
class Document:
    """A YAML file turned into plain data, with the position of every node.

    ``positions`` maps a JSON path (keys and list indexes) to the (line, column)
    of the value there, and ``key_positions`` to that of its key, so findings
    can point at the field a user has to edit.
    """

    path: str
    data: Any
    positions: dict[JsonPath, Position] = field(default_factory=dict)
    key_positions: dict[JsonPath, Position] = field(default_factory=dict)
    raw_scalars: dict[JsonPath, str] = field(default_factory=dict)

    def position(self, json_path: JsonPath) -> Position:
        """The nearest known position at or above ``json_path`` (the key if known)."""
        probe = tuple(json_path)
        while probe:
            if probe in self.key_positions:
                return self.key_positions[probe]
            if probe in self.positions:
                return self.positions[probe]
            probe = probe[:-1]
        return self.positions.get((), (1, 1))


@dataclass
class LoadResult:
    """A document, or the findings that explain why there is none."""

    document: Document | None
    findings: list[Finding] = field(default_factory=list)
