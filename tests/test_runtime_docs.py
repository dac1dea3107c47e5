"""docs/runtime.md runs as written: every fenced block is executed, written or compared (issue 18).

Blocks run in order in one repository whose billing-cycle agent was approved on
2026-01-05: `sh` lines run in bash (exit 0, or the `# exit N` they state),
`python` blocks run and must print each `# prints ...` line, `file=NAME`
blocks are written for the commands after them, `example=FORMAT` blocks must
match what the export wrote, and the `rego` block must be the module we generate.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from agentpolicy.export.opa import MODULE
from tests.helpers import AGENTPOLICY, BILLING, GitRepo, Key, approve, run

DOC = Path(__file__).resolve().parent.parent / "docs" / "runtime.md"
FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def approved_repo(repo: GitRepo, keys: dict[str, Key]) -> GitRepo:
    repo.write(".agentpolicy/allowed_signers", keys["rev"].signer_line() + "\n")
    repo.write("agents/billing-cycle.yaml", BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.git("add", "-A")
    dated = {
        **repo.env,
        "GIT_COMMITTER_DATE": "2026-01-05T09:00:00Z",
        "GIT_AUTHOR_DATE": "2026-01-05T09:00:00Z",
    }
    repo.git("commit", "-q", "--no-verify", "-m", "billing agent", env=dated)
    return repo


def run_shell(repo: GitRepo, block: str) -> None:
    env = {**repo.env, "PATH": f"{Path(AGENTPOLICY).parent}:{repo.env['PATH']}"}
    for line in block.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        stated = re.search(r"#\s*exit (\d)", line)
        done = run(["bash", "-c", line], repo.path, env)
        assert done.code == (int(stated.group(1)) if stated else 0), f"`{line}`:\n{done.text}"
        if stated and ":" in line:
            for rule in re.findall(r"AP\d{3}", line.split("#", 1)[1]):
                assert f" {rule} " in done.out, (rule, line, done.out)
        for written in re.findall(r"(?:--output\s+|=)([\w.-]+)", line.split("#")[0]):
            assert (repo.path / written).exists(), f"{written} promised by `{line}`"


def run_python(repo: GitRepo, block: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", block],
        cwd=repo.path,
        env=repo.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for promised in re.findall(r"^# prints (.+)$", block, re.MULTILINE):
        assert promised in done.stdout.splitlines(), (promised, done.stdout)


def compare_example(repo: GitRepo, fmt: str, block: str) -> None:
    shown = json.loads(block)
    written = json.loads((repo.path / f"billing-cycle.{fmt}.json").read_text())
    if fmt == "mcp":
        assert shown["tools"] == written["tools"]
        assert set(shown) == set(written) and shown["_meta"].keys() == written["_meta"].keys()
        boundary = written["_meta"]["io.github.agentpolicy/boundary"]
    else:
        [shown_extension], [extension] = (
            shown["capabilities"]["extensions"],
            written["capabilities"]["extensions"],
        )
        assert {k: v for k, v in shown_extension.items() if k != "params"} == {
            k: v for k, v in extension.items() if k != "params"
        }
        boundary = extension["params"]
    assert boundary == json.loads((repo.path / "billing-cycle.boundary.json").read_text())


def test_every_block_of_docs_runtime_md_runs_as_written(repo: GitRepo, keys: dict[str, Key]) -> None:
    approved_repo(repo, keys)
    blocks = FENCE.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 10
    for language, info, body in blocks:
        options = dict(re.findall(r"(\w+)=(\S+)", info))
        if "file" in options:
            repo.write(options["file"], body)
        elif language == "sh":
            run_shell(repo, body)
        elif language == "python":
            run_python(repo, body)
        elif language == "rego":
            assert body == MODULE
        elif "example" in options:
            compare_example(repo, options["example"], body)
        else:
            raise AssertionError(f"a block nothing runs or checks: ```{language}{info}")
    assert "AP503" in (repo.path / "incident.sarif").read_text()
