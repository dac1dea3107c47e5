"""`agentpolicy.runtime`: the approved boundary in a running agent, with no CLI weight (issue 18)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agentpolicy.runtime import Action, Boundary, BoundaryError, UnapprovedBoundary
from tests.helpers import EXPANDED_BILLING, GitRepo, Key, guarded_repo

ACTIONS = [
    "generate-billing-documents",
    "send-notifications",
    "submit-to-client-portal",
    "refund-payment",
    "",
    "SEND-NOTIFICATIONS",
    "send-notifications ",
]


def boundary(**changes: object) -> Boundary:
    fields: dict = {
        "agent": "billing-cycle",
        "version": "1.4.0",
        "stage": "production",
        "digest": "sha256:0",
        "commit": "0" * 40,
        "approved": True,
        "autonomous": (Action("send-notifications"),),
        "requires_confirmation": (Action("submit-to-client-portal", True),),
    }
    fields.update(changes)
    return Boundary(**fields)


def test_importing_the_runtime_loads_no_cli_schema_git_or_yaml_library() -> None:
    code = (
        "import sys; import agentpolicy.runtime; "
        "heavy = {'click', 'jsonschema', 'pygit2', 'yaml', '_pygit2'}; "
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_decide_allows_autonomous_confirms_listed_and_denies_everything_else() -> None:
    found = boundary()
    assert found.decide("send-notifications") == "allow"
    assert found.decide("submit-to-client-portal") == "confirm"
    for other in (
        "refund-payment",
        "",
        "Send-Notifications",
        "send-notifications ",
        None,
        5,
        ["send-notifications"],
    ):
        assert found.decide(other) == "deny"
    assert found.irreversible("submit-to-client-portal") and not found.irreversible("send-notifications")


def test_a_retired_agent_is_denied_every_action() -> None:
    retired = boundary(stage="retired")
    assert {retired.decide(action) for action in ACTIONS} == {"deny"}


def test_an_action_on_both_sides_needs_confirmation() -> None:
    both = boundary(autonomous=(Action("x"),), requires_confirmation=(Action("x", True),))
    assert both.decide("x") == "confirm" and both.irreversible("x")


def test_from_repo_gives_the_judges_verdict_and_load_of_an_export_decides_the_same(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    live = Boundary.from_repo(repo.path, "billing-cycle")
    assert live.approved and live.version == "1.4.0" and live.approvals[0].reviewer == "Rev <rev@example.com>"
    done = repo.ap("export", "billing-cycle", "--output", "billing-cycle.json")
    assert done.code == 0, done.text
    loaded = Boundary.load(repo.path / "billing-cycle.json")
    assert loaded == live
    for action in ACTIONS:
        assert loaded.decide(action) == live.decide(action)


def test_from_repo_refuses_unapproved_content_unless_allowed(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.commit("expand without approval")
    with pytest.raises(UnapprovedBoundary, match=r"billing-cycle 1\.5\.0 at HEAD is not approved"):
        Boundary.from_repo(repo.path, "billing-cycle")
    widened = Boundary.from_repo(repo.path, "billing-cycle", allow_unapproved=True)
    assert not widened.approved and widened.decide("submit-to-client-portal") == "allow"
    earlier = Boundary.from_repo(repo.path, "billing-cycle", rev="HEAD~1")
    assert earlier.approved and earlier.decide("submit-to-client-portal") == "confirm"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[" * 100_000, "not JSON"),
        (b'{"format_version": 2}', "unsupported format_version"),
        (b'{"format_version": true}', "unsupported format_version"),
        (b'{"format_version": 1, "agent": 5}', "`agent` must be a string"),
        (b"[]", "holds no agent"),
    ],
)
def test_load_refuses_what_is_not_an_exported_boundary(tmp_path: Path, content: bytes, message: str) -> None:
    target = tmp_path / "boundary.json"
    target.write_bytes(content)
    with pytest.raises(BoundaryError, match=message):
        Boundary.load(target)


def test_load_refuses_a_wrongly_typed_action_rather_than_guessing(tmp_path: Path) -> None:
    document = boundary().to_json()
    document["requires_confirmation"] = [{"action": "x", "irreversible": "yes"}]
    (tmp_path / "b.json").write_text(json.dumps(document))
    with pytest.raises(BoundaryError, match="irreversible"):
        Boundary.load(tmp_path / "b.json")


def test_load_refuses_a_huge_file_without_reading_it_all(tmp_path: Path) -> None:
    target = tmp_path / "huge.json"
    with target.open("wb") as handle:
        handle.truncate(17 * 1024 * 1024)
    with pytest.raises(BoundaryError, match="larger than"):
        Boundary.load(target)


def test_load_of_several_agents_needs_the_name(tmp_path: Path) -> None:
    other = boundary(agent="pdf-extraction")
    (tmp_path / "all.json").write_text(json.dumps([boundary().to_json(), other.to_json()]))
    with pytest.raises(BoundaryError, match="expected one agent"):
        Boundary.load(tmp_path / "all.json")
    assert Boundary.load(tmp_path / "all.json", agent="pdf-extraction") == other


def test_unknown_keys_of_a_later_format_are_ignored(tmp_path: Path) -> None:
    document = boundary().to_json() | {"added_later": {"anything": 1}}
    (tmp_path / "b.json").write_text(json.dumps(document))
    assert Boundary.load(tmp_path / "b.json") == boundary()
