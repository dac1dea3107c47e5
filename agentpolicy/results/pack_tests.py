"""What `agentpolicy test` found for one rule pack: its examples' outcomes and its risky patterns."""

from __future__ import annotations

from dataclasses import dataclass

from agentpolicy.rules.pack_testing import ExampleResult, PatternWarning


@dataclass(frozen=True)
class PackTestRun:
    source: str  # how the pack is named in the report: its folder or installed name
    warnings: list[PatternWarning]
    examples: list[ExampleResult]

    @property
    def misbehaving(self) -> int:
        return sum(1 for example in self.examples if not example.ok)
