"""The examples of `agentpolicy export --help` and `agentpolicy conformance --help` run as written.

Same scenario and reading of the help text as tests/test_help_examples.py; the
logs the conformance examples name are written first (events of the agent's
autonomous actions, after its approval), as a runtime would have written them.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.helpers import Key, run
from tests.test_help_examples import example_env, examples, help_text, scenario


def runtime_logs(folder: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    event = {"time": now.isoformat(), "agent": "billing-cycle", "action": "send-notifications"}
    (folder / "runtime.jsonl").write_text(json.dumps(event) + "\n")
    span = {
        "traceId": "ab" * 16,
        "spanId": "cd" * 8,
        "startTimeUnixNano": str(int(now.timestamp()) * 10**9),
        "attributes": [
            {"key": "gen_ai.agent.name", "value": {"stringValue": "billing-cycle"}},
            {"key": "gen_ai.tool.name", "value": {"stringValue": "generate-billing-documents"}},
        ],
    }
    (folder / "traces.json").write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}))


@pytest.mark.parametrize("command", ["export", "conformance"])
def test_runtime_help_examples_run_as_written(
    command: str, tmp_path: Path, home: Path, keys: dict[str, Key]
) -> None:
    repo = scenario(tmp_path, home, keys)
    runtime_logs(repo.path)
    env = example_env(repo, tmp_path)
    lines = examples(help_text(command, repo.path, env), command)
    assert len(lines) >= 2
    for line in lines:
        done = run(["bash", "-c", line], repo.path, env)
        assert done.code == 0, f"`{line}` from `agentpolicy {command} --help` failed:\n{done.text}"
    if command == "export":
        assert sorted(p.name for p in (repo.path / "opa-bundle").iterdir()) == [
            "agentpolicy.rego",
            "data.json",
        ]
