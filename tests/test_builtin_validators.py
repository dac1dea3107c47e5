"""The validators shipped for the built-in schemas are exactly what fastjsonschema generates now."""

from __future__ import annotations

from pathlib import Path

from agentpolicy.model import builtin_validators
from agentpolicy.rules.validators_source import render_builtin_validators

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_validators_are_generated_from_the_current_schemas() -> None:
    shipped = (ROOT / "agentpolicy" / "model" / "builtin_validators.py").read_text(encoding="utf-8")
    assert shipped == render_builtin_validators(), (
        "agentpolicy/model/builtin_validators.py is stale: regenerate it as the docstring of "
        "agentpolicy.rules.validators_source.render_builtin_validators says"
    )


def test_every_shipped_validator_builds_and_judges() -> None:
    assert builtin_validators.FACTORIES
    for factory in builtin_validators.FACTORIES.values():
        validate = factory()
        assert callable(validate)
