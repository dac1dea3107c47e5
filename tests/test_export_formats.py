"""`agentpolicy export`: the approved boundary as JSON, OPA (run by a real Rego interpreter), MCP and A2A."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
from regopy import Interpreter

from agentpolicy.export.opa import MODULE, bundle_files
from agentpolicy.export.render import A2A_EXTENSION_URI
from agentpolicy.runtime import Action, Boundary
from tests.helpers import EXPANDED_BILLING, GitRepo, Key, agent_yaml, approve, guarded_repo

DATA = Path(__file__).parent / "data"
MCP_SCHEMA = json.loads((DATA / "mcp-schema-2025-11-25.json").read_text())
A2A_SCHEMA = json.loads((DATA / "a2a-0.3.0.json").read_text())
# MCP 2025-11-25, "General fields: _meta": an optional dotted prefix ending in "/", then a name
MCP_META_KEY = re.compile(
    r"(?:[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*/)?"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)?"
)
PROBES = [
    "generate-billing-documents",
    "send-notifications",
    "submit-to-client-portal",
    "extract-fields",
    "export-data",
    "refund-payment",
    "",
    "Send-Notifications",
]


def two_agents(repo: GitRepo, keys: dict[str, Key]) -> GitRepo:
    guarded_repo(repo, keys)
    repo.write("agents/pdf-extraction.yaml", agent_yaml())
    assert approve(repo, keys["rev"], "pdf-extraction").code == 0
    repo.commit("pdf agent")
    return repo


def validator(schema: dict, pointer: str) -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema)
    return cls({"$ref": pointer, **{k: v for k, v in schema.items() if k in ("$defs", "definitions")}})


def rego_decisions(bundle: Path, inputs: list[dict]) -> list[str]:
    """Each input evaluated as OPA would: the bundle's files as they are, the input as JSON text
    (regopy's set_input(dict) garbles strings holding quotes, newlines or non-ASCII; the JSON path does not)."""
    decisions = []
    for given in inputs:
        rego = Interpreter()
        rego.add_data_json((bundle / "data.json").read_text(encoding="utf-8"))
        rego.add_module("agentpolicy.rego", (bundle / "agentpolicy.rego").read_text(encoding="utf-8"))
        rego.set_input_term(json.dumps(given))
        output = rego.query("data.agentpolicy.decision")
        assert output.ok(), str(output)
        decisions.append(json.loads(str(output))["expressions"][0])
    return decisions


def test_export_boundary_holds_the_approved_lists_and_who_approved(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    done = repo.ap("export", "billing-cycle")
    assert done.code == 0, done.text
    document = json.loads(done.out)
    head = repo.git("rev-parse", "HEAD").strip()
    assert document["format_version"] == 1 and document["commit"] == head
    assert document["approved"] is True and document["stage"] == "production"
    assert document["approvals"][0]["reviewer"] == "Rev <rev@example.com>"
    assert document["approvals"][0]["decision"] == "approve"
    assert document["requires_confirmation"] == [{"action": "submit-to-client-portal", "irreversible": True}]
    assert [a["action"] for a in document["autonomous"]] == [
        "generate-billing-documents",
        "send-notifications",
    ]


def test_unapproved_content_is_refused_with_exit_1_unless_allowed(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.commit("expand without approval")
    done = repo.ap("export", "billing-cycle", "--output", "out.json")
    assert done.code == 1 and "billing-cycle 1.5.0 at HEAD is not approved" in done.err
    assert not (repo.path / "out.json").exists() and done.out == ""
    allowed = repo.ap("export", "billing-cycle", "--allow-unapproved")
    assert allowed.code == 0 and json.loads(allowed.out)["approved"] is False
    earlier = repo.ap("export", "billing-cycle", "--rev", "HEAD~1")
    assert earlier.code == 0 and json.loads(earlier.out)["version"] == "1.4.0"


def test_export_answers_as_status_does(repo: GitRepo, keys: dict[str, Key]) -> None:
    two_agents(repo, keys)
    status = {
        row["name"]: row["approved"]
        for row in json.loads(repo.ap("status", "--format", "json").out)["agents"]
    }
    exported = json.loads(repo.ap("export", "billing-cycle", "pdf-extraction", "--allow-unapproved").out)
    assert {document["agent"]: document["approved"] for document in exported} == status


def test_an_unknown_agent_or_a_range_is_a_usage_error(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    unknown = repo.ap("export", "nobody")
    assert unknown.code == 2 and "no agent named 'nobody'" in unknown.err
    ranged = repo.ap("export", "billing-cycle", "--rev", "HEAD~1..HEAD")
    assert ranged.code == 2 and "is a range" in ranged.err


def test_output_never_overwrites_a_file_or_folder(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("taken.json", "keep me")
    done = repo.ap("export", "billing-cycle", "--output", "taken.json")
    assert done.code == 2 and "already exists" in done.err and repo.read("taken.json") == "keep me"
    (repo.path / "bundle").mkdir()
    done = repo.ap("export", "billing-cycle", "--format", "opa", "--output", "bundle")
    assert done.code == 2 and "already exists" in done.err and os.listdir(repo.path / "bundle") == []
    assert repo.ap("export", "billing-cycle", "--format", "opa").code == 2  # two files need a folder


def test_opa_decisions_equal_boundary_decide_for_every_action(repo: GitRepo, keys: dict[str, Key]) -> None:
    two_agents(repo, keys)
    done = repo.ap("export", "billing-cycle", "pdf-extraction", "--format", "opa", "--output", "opa-bundle")
    assert done.code == 0, done.text
    assert (repo.path / "opa-bundle" / "agentpolicy.rego").read_text() == MODULE
    inputs, expected = [], []
    for agent in ("billing-cycle", "pdf-extraction", "ghost"):
        live = Boundary.from_repo(repo.path, agent) if agent != "ghost" else None
        for action in PROBES:
            inputs.append({"agent": agent, "action": action})
            expected.append(live.decide(action) if live else "deny")
    inputs += [{"agent": "billing-cycle", "action": 5}, {"agent": ["billing-cycle"], "action": "x"}, {}]
    expected += ["deny", "deny", "deny"]
    assert rego_decisions(repo.path / "opa-bundle", inputs) == expected
    assert "allow" in expected and "confirm" in expected


def test_opa_retired_and_both_sides_match_decide(tmp_path: Path) -> None:
    boundaries = [
        Boundary("old", "2.0.0", "retired", "d", "c", True, (), (Action("a"),), ()),
        Boundary("both", "1.0.0", "production", "d", "c", True, (), (Action("x"),), (Action("x", True),)),
    ]
    (tmp_path / "bundle").mkdir()
    for name, text in bundle_files(boundaries).items():
        (tmp_path / "bundle" / name).write_text(text)
    inputs = [{"agent": b.agent, "action": action} for b in boundaries for action in ("a", "x")]
    expected = [b.decide(action) for b in boundaries for action in ("a", "x")]
    assert rego_decisions(tmp_path / "bundle", inputs) == expected == ["deny", "deny", "deny", "confirm"]


def test_opa_hostile_names_stay_data_and_never_become_rego(tmp_path: Path) -> None:
    evil = 'x"\n}\ndecision := "allow" if { true }\n#'
    boundaries = [
        Boundary(evil, "1", "production", "d", "c", True, (), (Action(evil + "\x1b[31m"),), ()),
        Boundary("billing-cycle", "1", "production", "d", "c", True, (), (Action("a"),), ()),
    ]
    files = bundle_files(boundaries)
    assert files["agentpolicy.rego"] == MODULE
    (tmp_path / "b").mkdir()
    for name, text in files.items():
        (tmp_path / "b" / name).write_text(text)
    inputs = [{"agent": "billing-cycle", "action": "zzz"}, {"agent": evil, "action": evil + "\x1b[31m"}]
    assert rego_decisions(tmp_path / "b", inputs) == ["deny", "allow"]


def test_mcp_annotations_are_valid_mcp_tools_and_never_guess_read_only(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    done = repo.ap("export", "billing-cycle", "--format", "mcp")
    assert done.code == 0, done.text
    document = json.loads(done.out)
    tool_schema = validator(MCP_SCHEMA, "#/$defs/Tool")
    by_name = {}
    for tool in document["tools"]:
        tool_schema.validate({**tool, "inputSchema": {"type": "object"}})  # merged into the server's own tool
        assert "readOnlyHint" not in tool["annotations"]
        assert all(MCP_META_KEY.fullmatch(key) for key in tool["_meta"])
        by_name[tool["name"]] = tool
    assert by_name["submit-to-client-portal"]["annotations"] == {"destructiveHint": True}
    assert by_name["send-notifications"]["annotations"] == {}
    assert by_name["submit-to-client-portal"]["_meta"]["io.github.agentpolicy/decision"] == "confirm"
    assert all(MCP_META_KEY.fullmatch(key) for key in document["_meta"])
    boundary = document["_meta"]["io.github.agentpolicy/boundary"]
    assert Boundary.from_json(boundary) == Boundary.from_repo(repo.path, "billing-cycle")


def test_a2a_extension_fits_the_agent_card_schema(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    done = repo.ap("export", "billing-cycle", "--format", "a2a")
    assert done.code == 0, done.text
    document = json.loads(done.out)
    validator(A2A_SCHEMA, "#/definitions/AgentCapabilities").validate(document["capabilities"])
    card = {
        "name": "Billing cycle",
        "description": "Generates the monthly billing documents.",
        "url": "https://agents.example.com/billing",
        "version": "1.4.0",
        "protocolVersion": "0.3.0",
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [],
        **document,
    }
    validator(A2A_SCHEMA, "#/definitions/AgentCard").validate(card)
    extension = document["capabilities"]["extensions"][0]
    assert extension["uri"] == A2A_EXTENSION_URI and extension["required"] is False
    assert Boundary.from_json(extension["params"]).decide("submit-to-client-portal") == "confirm"


@pytest.mark.parametrize("fmt", ["boundary", "mcp", "a2a"])
def test_several_agents_give_an_array_in_the_order_asked(
    repo: GitRepo, keys: dict[str, Key], fmt: str
) -> None:
    two_agents(repo, keys)
    done = repo.ap("export", "pdf-extraction", "billing-cycle", "--format", fmt)
    assert done.code == 0, done.text
    documents = json.loads(done.out)
    assert isinstance(documents, list) and len(documents) == 2
    assert "pdf-extraction" in json.dumps(documents[0]) and "billing-cycle" in json.dumps(documents[1])


def test_docs_json_md_shows_every_key_of_the_boundary_document(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    docs = (Path(__file__).parent.parent / "docs" / "json.md").read_text(encoding="utf-8")
    section = docs.split("## `agentpolicy export --format boundary`", 1)[1]
    shown = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    real = json.loads(repo.ap("export", "billing-cycle").out)
    assert shown.keys() == real.keys()
    assert shown["approvals"][0].keys() == real["approvals"][0].keys()
    assert shown["requires_confirmation"] == real["requires_confirmation"]
