"""Issue 13, attack 24: governed values are compared in the digest's canonical form, and integer
fields take integers only, so `2` -> `2.0` can neither slip past the gate nor lower a threshold."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import AGENTPOLICY, BILLING, GitRepo, Key, clean_env, guarded_repo, run

WRONG = {"int": 2, "float": 2.0, "bool": True, "string": "2", "null": None}

# Every governed field of the agent schema (and the objects that hold them), with its JSON type.
GOVERNED = {
    ("name",): "string",
    ("version",): "string",
    ("stage",): "string",
    ("owner",): "object",
    ("owner", "name"): "string",
    ("owner", "email"): "string",
    ("autonomy",): "object",
    ("autonomy", "autonomous"): "array",
    ("autonomy", "autonomous", 0, "action"): "string",
    ("autonomy", "requires_confirmation"): "array",
    ("autonomy", "requires_confirmation", 0, "action"): "string",
    ("autonomy", "requires_confirmation", 0, "irreversible"): "bool",
    ("undo",): "object",
    ("undo", "rollback"): "string",
    ("undo", "human_checkpoint"): "string",
    ("change_control",): "object",
    ("change_control", "approvals_required"): "int",
    ("change_control", "process"): "string",
}
_STRING_SHAPED = {("version",), ("stage",), ("owner", "email")}  # "2" is wrong there too
CASES = [
    (path, kind, value)
    for path, right in GOVERNED.items()
    for kind, value in WRONG.items()
    if kind != right and not (kind == "string" and right == "string" and path not in _STRING_SHAPED)
]


def _set(data: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    node: Any = changed
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return changed


def test_attack_each_type_confusion_in_a_governed_field_is_a_schema_error(tmp_path: Path) -> None:
    """One file per (field, wrong JSON type), all judged by one real `agentpolicy check` run."""
    base = yaml.safe_load(BILLING)
    folder = tmp_path / "agents"
    folder.mkdir()
    expected = {}
    for index, (path, kind, value) in enumerate(CASES):
        data = _set({**base, "name": f"v{index}"}, path, value)
        name = f"agents/v{index}.yaml"
        (tmp_path / name).write_text(yaml.safe_dump(data, sort_keys=False))
        expected[name] = (".".join(map(str, path)), kind, value)
    done = run([AGENTPOLICY, "check", "agents"], tmp_path, clean_env(tmp_path))
    assert done.code == 1, done.text
    flagged = {m.group(1) for m in re.finditer(r"^(agents/v\d+\.yaml):\d+:\d+: error AP1", done.out, re.M)}
    missed = {name: case for name, case in expected.items() if name not in flagged}
    assert not missed, f"accepted without an error: {missed}\n{done.out}"
    assert len(CASES) > 60


def test_a_whole_float_threshold_gets_an_error_with_a_fix_line(tmp_path: Path) -> None:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "billing.yaml").write_text(
        BILLING.replace("approvals_required: 1", "approvals_required: 2.0")
    )
    done = run([AGENTPOLICY, "check", "agents"], tmp_path, clean_env(tmp_path))
    assert done.code == 1
    assert "AP100 `change_control.approvals_required` must be a whole number" in done.out, done.out
    assert "fix: write `change_control.approvals_required` as a whole number" in done.out


def test_attack_float_threshold_is_a_governed_change_refused_by_the_pr_check(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """`approvals_required: 1` -> `1.0` equals in Python but not in the digest: the PR check refuses it."""
    guarded_repo(repo, keys)
    repo.git("checkout", "-q", "-b", "lower")
    repo.write(
        "agents/billing-cycle.yaml", BILLING.replace("approvals_required: 1", "approvals_required: 1.0")
    )
    repo.commit("cosmetic", author="Eve Sneaky <eve@example.com>")
    done = repo.ap("check", "--base", "main")
    assert done.code == 1, done.text
    assert "AP100" in done.text


def test_attack_float_threshold_pushed_past_the_gate_is_an_unapproved_audit_event(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write(
        "agents/billing-cycle.yaml", BILLING.replace("approvals_required: 1", "approvals_required: 1.0")
    )
    repo.commit("cosmetic", author="Eve Sneaky <eve@example.com>")
    done = repo.ap("audit", "--format", "json")
    assert done.code == 0, done.text
    events = json.loads(done.out)["events"]
    assert (events[-1]["event"], events[-1]["approved"]) == ("change-control-changed", False)


PACK_FIELDS = ("approvals_required", "autonomy_expansion")


@pytest.mark.parametrize(
    ("field", "kind"), [(f, k) for f in PACK_FIELDS for k in WRONG if k != "int"], ids=lambda v: str(v)
)
def test_attack_type_confusion_in_pack_gate_policy_is_a_config_error(
    tmp_path: Path, field: str, kind: str
) -> None:
    (tmp_path / ".agentpolicy.yaml").write_text("policy: [acme]\n")
    (tmp_path / "acme").mkdir()
    value = json.dumps(WRONG[kind])
    (tmp_path / "acme" / "pack.yaml").write_text(
        f"approvals:\n  - when: {{properties: {{stage: {{const: production}}}}}}\n    {field}: {value}\n"
    )
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "billing.yaml").write_text(BILLING)
    done = run([AGENTPOLICY, "check", "agents"], tmp_path, clean_env(tmp_path))
    assert done.code == 2, done.text
    assert "pack.yaml" in done.text and "invalid pack settings" in done.text, done.text


@pytest.mark.parametrize("kind", [*WRONG, "whole"])
@pytest.mark.parametrize("schema_name", ["agent", "pack"])
def test_the_fast_path_means_the_same_as_the_strict_jsonschema_validator(schema_name: str, kind: str) -> None:
    """fastjsonschema and jsonschema both take 2.0 as an integer; ours do not, on either path."""
    from agentpolicy.model.fastschema import fast_validator, strict_validator
    from agentpolicy.model.schemas import schema

    value = 3 if kind == "whole" else WRONG[kind]
    if schema_name == "agent":
        data = _set(yaml.safe_load(BILLING), ("change_control", "approvals_required"), value)
    else:
        data = {"approvals": [{"when": True, "approvals_required": value, "autonomy_expansion": 2}]}
    fast = fast_validator(schema(schema_name))
    assert fast is not None
    expected = kind in ("whole", "int")
    assert fast(data) is expected
    assert strict_validator(schema(schema_name)).is_valid(data) is expected
