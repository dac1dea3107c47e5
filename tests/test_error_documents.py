"""Errors in machine formats (issue 15): on exit 2, stdout still carries a valid document of the
asked format that states the error, and stderr keeps the human message."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from tests.helpers import GitRepo, agent_yaml

SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif-2.1.0.json"


@pytest.fixture()
def broken_config(repo: GitRepo) -> GitRepo:
    repo.write("agents/a.yaml", agent_yaml(name="a"))
    repo.commit("agent")
    repo.write(".agentpolicy.yaml", "rules: {AP112: warn}\n")
    repo.commit("a configuration that cannot be read, pushed past the hook")
    return repo


def assert_states_the_error(fmt: str, out: str) -> None:
    if fmt == "json":
        document = json.loads(out)
        assert document["error"]["exit_code"] == 2 and "AP112" in document["error"]["message"]
        assert document["error"]["hint"]
        assert document["summary"]["exit_code"] == 2 and document["findings"] == []
    elif fmt == "sarif":
        document = json.loads(out)
        jsonschema.validate(document, json.loads(SARIF_SCHEMA.read_text()))
        invocation = document["runs"][0]["invocations"][0]
        assert invocation["executionSuccessful"] is False
        assert "AP112" in invocation["toolExecutionNotifications"][0]["message"]["text"]
    elif fmt == "gitlab":
        issues = json.loads(out)
        assert len(issues) == 1 and issues[0]["severity"] == "blocker" and "AP112" in issues[0]["description"]
    else:
        root = ET.fromstring(out)
        assert root.get("errors") == "1" and "AP112" in (root.find(".//error").text or "")


@pytest.mark.parametrize("fmt", ["json", "sarif", "gitlab", "junit"])
def test_check_on_exit_2_prints_a_document_that_states_the_error(fmt: str, broken_config: GitRepo) -> None:
    done = broken_config.ap("check", "--format", fmt)
    assert done.code == 2, done.text
    assert "AP112" in done.err  # the human message stays on stderr
    assert_states_the_error(fmt, done.out)


@pytest.mark.parametrize("fmt", ["json", "sarif", "gitlab", "junit"])
def test_check_writes_the_error_document_to_each_output_file(fmt: str, broken_config: GitRepo) -> None:
    done = broken_config.ap("check", "--format", "text", "-o", f"{fmt}=report.out")
    assert done.code == 2 and done.out == ""
    assert_states_the_error(fmt, (broken_config.path / "report.out").read_text())


def test_a_usage_error_in_json_mode_is_a_document_too(repo: GitRepo) -> None:
    done = repo.ap("check", "--format", "json", "--staged", "--base", "main")
    assert done.code == 2
    assert json.loads(done.out)["error"]["message"]


@pytest.mark.parametrize("command", ["audit", "status"])
def test_audit_and_status_json_on_exit_2_state_the_error(command: str, broken_config: GitRepo) -> None:
    done = broken_config.ap(command, "--format", "json", "--rev", "no-such-branch")
    assert done.code == 2, done.text
    document = json.loads(done.out)
    assert "no-such-branch" in document["error"]["message"]
    assert ("events" in document) if command == "audit" else ("agents" in document)


def test_a_text_run_prints_nothing_on_stdout_when_it_stops(broken_config: GitRepo) -> None:
    done = broken_config.ap("check")
    assert done.code == 2 and done.out == "" and "AP112" in done.err
