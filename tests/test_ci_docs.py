"""docs/ci.md's copy-paste blocks (and the README's CI workflow) work as written.

Every GitHub workflow validates against the vendored `vendor.github-workflows` schema and
passes zizmor offline; every GitLab block validates against `vendor.gitlab-ci`; and every
block that can run on this machine is run, taken from the markdown (never copied into the
test), in a real repository with an approved and an unapproved change: the plain-shell CI
recipe, the `run:` steps of the GitHub workflows, the revision-name fix and the nightly audit.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.helpers import BILLING, GitRepo, Key, clean_env, feature_clone, run
from tests.test_action import OfflineIndex, offline_index

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    source: str  # file and section, for messages
    section: str
    language: str
    text: str

    @property
    def named(self) -> str:
        """The file the block is, from its first line (`# .github/workflows/x.yml`), or ''."""
        first = self.text.splitlines()[0] if self.text else ""
        found = re.match(r"#\s*(\S+)", first)
        return found.group(1).rstrip(",") if found else ""

    def __str__(self) -> str:
        return f"{self.source} ({self.section}): {self.named or self.text.splitlines()[0]}"


def blocks(relative: str, only_section: str | None = None) -> list[Block]:
    text = (ROOT / relative).read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        headings = re.findall(r"^#{2,3} (.+)$", text[: match.start()], re.MULTILINE)
        section = headings[-1] if headings else ""
        if only_section is None or section == only_section:
            found.append(Block(relative, section, match.group(1), match.group(2)))
    return found


DOC_BLOCKS = blocks("docs/ci.md") + blocks("README.md", "CI")
WORKFLOWS = [block for block in DOC_BLOCKS if block.named.startswith(".github/workflows/")]
GITLAB = [block for block in DOC_BLOCKS if block.named == ".gitlab-ci.yml"]


def by_section(section: str) -> Block:
    found = [block for block in blocks("docs/ci.md") if block.section == section]
    assert len(found) == 1, f"docs/ci.md should have one block under '## {section}'"
    return found[0]


def test_the_docs_have_the_blocks_this_file_checks() -> None:
    assert len(WORKFLOWS) >= 3  # with the action, without it (docs/ci.md), and the README's
    assert len(GITLAB) == 1


def test_every_ci_yaml_block_is_a_whole_file_named_in_its_first_line() -> None:
    """A fragment (`- run: ...`) cannot be validated, and a reader cannot tell where it goes."""
    looks_like_ci = re.compile(r"^\s*(-\s*(uses|run):|steps:|script:|jobs:)", re.MULTILINE)
    fragments = [
        str(block)
        for block in DOC_BLOCKS
        if block.language in ("yaml", "yml") and looks_like_ci.search(block.text)
        if block not in WORKFLOWS and block not in GITLAB
    ]
    assert not fragments


def _validate(block: Block, schema: str, tmp_path: Path) -> None:
    target = tmp_path / block.named
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(block.text, encoding="utf-8")
    done = run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(target)], tmp_path, dict(os.environ)
    )
    assert done.code == 0, f"{block}\n{done.text}"


@pytest.mark.parametrize("block", WORKFLOWS, ids=str)
def test_workflow_block_validates_against_the_github_workflow_schema(block: Block, tmp_path: Path) -> None:
    _validate(block, "vendor.github-workflows", tmp_path)


@pytest.mark.parametrize("block", GITLAB, ids=str)
def test_gitlab_block_validates_against_the_gitlab_ci_schema(block: Block, tmp_path: Path) -> None:
    _validate(block, "vendor.gitlab-ci", tmp_path)


# Our own action has no released commit yet to pin; every other action is held to zizmor's
# default (a full commit SHA). docs/ci.md tells readers to pin the release's commit.
ZIZMOR_CONFIG = """\
rules:
  unpinned-uses:
    config:
      policies:
        "agentpolicy/agentpolicy": ref-pin
        "*": hash-pin
"""


@pytest.mark.parametrize("block", WORKFLOWS, ids=str)
def test_workflow_block_passes_zizmor_offline(block: Block, tmp_path: Path) -> None:
    target = tmp_path / block.named
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(block.text, encoding="utf-8")
    config = tmp_path / "zizmor.yml"
    config.write_text(ZIZMOR_CONFIG, encoding="utf-8")
    done = run(
        [str(BIN / "zizmor"), "--offline", "--config", str(config), str(target)],  # the default persona
        tmp_path,
        dict(os.environ, NO_COLOR="1"),
    )
    assert done.code == 0, f"{block}\n{done.text}"


def test_workflows_pin_every_other_action_by_commit_and_keep_credentials_out() -> None:
    for block in WORKFLOWS:
        workflow = yaml.safe_load(block.text)
        assert workflow.get("permissions") == {}, f"{block}: no default token permissions"
        for job in workflow["jobs"].values():
            assert "permissions" in job, block
            for step in job["steps"]:
                name, _, ref = step.get("uses", "@").partition("@")
                if name and name != "agentpolicy/agentpolicy":
                    assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{block}: {step['uses']}"
                if name == "actions/checkout":
                    assert step["with"]["persist-credentials"] is False, block
                    assert step["with"]["fetch-depth"] == 0, block
                if name == "actions/setup-python":
                    assert str(step["with"]["python-version"]) >= "3.11", block


# --- running the blocks that can run here -----------------------------------------------------


@dataclass(frozen=True)
class Machine:
    """A CI machine with Python and no agentpolicy yet: pip installs from an offline index."""

    index: OfflineIndex
    python_bin: Path

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        env = clean_env(home, **self.index.env())
        env["PATH"] = f"{self.python_bin}{os.pathsep}{os.defpath}"
        env.pop("VIRTUAL_ENV", None)
        env.update(extra)
        return env


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Machine:
    index = offline_index(tmp_path_factory.getbasetemp())
    venv = tmp_path_factory.mktemp("ci-python") / "venv"
    run([sys.executable, "-m", "venv", str(venv)], venv.parent, dict(os.environ), check=True)
    assert not (venv / "bin" / "agentpolicy").exists()
    return Machine(index, venv / "bin")


def pushed_branch(tmp_path: Path, keys: dict[str, Key], *, approved: bool) -> tuple[GitRepo, GitRepo]:
    """`origin` holds the approved billing agent on main; a clone's branch raises its version."""
    return feature_clone(tmp_path, keys, tmp_path / "clone", approved=approved)


def run_block(text: str, folder: Path, env: dict[str, str]) -> tuple[int, str]:
    script = folder.parent / "block.sh"
    script.write_text(text, encoding="utf-8")
    done = run(["bash", str(script)], folder, env)
    return done.code, done.text


@pytest.mark.parametrize(("approved", "code"), [(True, 0), (False, 1)])
def test_plain_shell_ci_block_runs_as_written(
    tmp_path: Path, keys: dict[str, Key], machine: Machine, approved: bool, code: int
) -> None:
    block = by_section("Any other CI (plain shell)")
    _, clone = pushed_branch(tmp_path, keys, approved=approved)
    done, text = run_block(block.text, clone.path, machine.env(clone.home))
    assert done == code, text
    assert "<testsuite" in (clone.path / "agentpolicy.xml").read_text(encoding="utf-8")
    assert '"version": "2.1.0"' in (clone.path / "agentpolicy.sarif").read_text(encoding="utf-8")
    assert (machine.python_bin / "agentpolicy").exists(), "the block's pip install put agentpolicy there"


def _github_steps(block: Block) -> list[dict[str, object]]:
    workflow = yaml.safe_load(block.text)
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


RUNNABLE_WORKFLOWS = [block for block in WORKFLOWS if any("run" in step for step in _github_steps(block))]


@pytest.mark.parametrize(("approved", "code"), [(True, 0), (False, 1)])
@pytest.mark.parametrize("block", RUNNABLE_WORKFLOWS, ids=str)
def test_workflow_run_steps_run_as_written_on_a_pull_request(
    tmp_path: Path, keys: dict[str, Key], machine: Machine, block: Block, approved: bool, code: int
) -> None:
    """checkout is the clone, setup-python the CI machine's Python; the `run:` steps run as bash would."""
    _, clone = pushed_branch(tmp_path, keys, approved=approved)
    summary = tmp_path / "summary.md"
    env = machine.env(
        clone.home,
        GITHUB_ACTIONS="true",
        GITHUB_EVENT_NAME="pull_request",
        GITHUB_BASE_REF="main",
        GITHUB_STEP_SUMMARY=str(summary),
    )
    codes = []
    for step in _github_steps(block):
        if "run" in step:
            assert "${{" not in str(step["run"]), block
            codes.append(run_block(str(step["run"]), clone.path, env))
            if codes[-1][0]:
                break
    assert [c for c, _ in codes][-1] == code, codes
    assert [c for c, _ in codes][:-1] == [0] * (len(codes) - 1), codes
    assert ("Check **passed**" if approved else "Check **failed**") in summary.read_text(encoding="utf-8")


def test_revision_name_fix_block_runs_as_written(tmp_path: Path, keys: dict[str, Key]) -> None:
    """A pushed tag named `origin/main` shadows the remote branch; the documented fix works."""
    block = by_section("Revision names")
    _, clone = pushed_branch(tmp_path, keys, approved=True)
    clone.git("tag", "origin/main", "feature")
    env = clean_env(clone.home, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.defpath}")
    shadowed, text = run_block("agentpolicy check --base origin/main", clone.path, env)
    assert shadowed == 2 and "refs/tags/origin/main" in text, text
    done, text = run_block("set -e\n" + block.text, clone.path, env)
    assert done == 0, text
    assert clone.git("tag", "--list", "origin/main") == ""


def test_nightly_audit_block_runs_as_written(tmp_path: Path, keys: dict[str, Key]) -> None:
    block = by_section("Nightly audit")
    _, clone = pushed_branch(tmp_path, keys, approved=True)
    env = clean_env(clone.home, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.defpath}")
    done, text = run_block(block.text, clone.path, env)
    assert done == 0, text
    assert (clone.path / "audit.md").read_text(encoding="utf-8").startswith("# Agent approval audit")

    clone.write("agents/billing-cycle.yaml", BILLING.replace("version: 1.4.0 ", "version: 9.9.9 "))
    clone.commit("pushed past the hook")  # --no-verify: the case the nightly job is for
    done, text = run_block(block.text, clone.path, env)
    assert done == 1, text
    assert "billing-cycle" in (clone.path / "audit.md").read_text(encoding="utf-8")


def test_every_shell_block_in_the_ci_docs_is_valid_bash() -> None:
    for block in blocks("docs/ci.md"):
        if block.language in ("sh", "bash", "shell"):
            done = run(["bash", "-n"], ROOT, dict(os.environ), stdin=block.text)
            assert done.code == 0, f"{block}\n{done.text}"
