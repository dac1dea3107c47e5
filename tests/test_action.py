"""The GitHub Action (action.yml) loads, is safe, and works: its steps run here as a runner runs them.

A runner cannot be had in a test, so `run_action` below plays one: it reads action.yml
and runs each `run:` script with `bash --noprofile --norc -eo pipefail` (what `shell: bash`
means on a runner), with the step's `env:` and `working-directory:` evaluated from the
inputs (defaults, then the test's values) and from earlier steps' `$GITHUB_OUTPUT`. The
one `uses:` step (setup-python) is checked, not run: its `python-path` output is this
interpreter. The package index is a folder of wheels (PIP_NO_INDEX, PIP_FIND_LINKS) and
the dependencies are this environment's (PYTHONPATH), so the install step runs as written,
offline.
"""

from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

import agentpolicy
from tests.helpers import Key, clean_env, feature_clone, run

ROOT = Path(__file__).resolve().parent.parent
ACTION_FILE = ROOT / "action.yml"
BIN = Path(sys.executable).parent
FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def load_action() -> dict[str, Any]:
    action = yaml.safe_load(ACTION_FILE.read_text(encoding="utf-8"))
    assert isinstance(action, dict)
    return action


# --- an offline package index, shared by this module and tests/test_ci_docs.py ------------------


@dataclass(frozen=True)
class OfflineIndex:
    """What a test needs to install git-agentpolicy offline, exactly as a user would."""

    source: Path  # a copy of this checkout: the Action's own path on a runner
    wheels: Path  # a wheel of git-agentpolicy: the package index
    dependencies: Path  # this environment's packages, without agentpolicy itself

    def env(self) -> dict[str, str]:
        return {
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(self.wheels),
            "PIP_NO_BUILD_ISOLATION": "0",  # pip's inverted switch: "0" turns build isolation off
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PYTHONPATH": str(self.dependencies),
        }


_NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".*_cache", ".hypothesis"
)


def offline_index(base: Path) -> OfflineIndex:
    """Built once per test session (in pytest's base temporary folder), by whichever module asks first."""
    folder = base / "offline-index"
    index = OfflineIndex(folder / "source", folder / "wheels", folder / "dependencies")
    if (folder / "ready").exists():
        return index
    shutil.copytree(ROOT, index.source, ignore=_NOT_COPIED)
    index.dependencies.mkdir(parents=True)
    ours = re.compile(r"^(agentpolicy|git_agentpolicy|__editable__)", re.IGNORECASE)
    for packages in site.getsitepackages():
        for entry in sorted(Path(packages).iterdir()):
            target = index.dependencies / entry.name
            if not ours.match(entry.name) and not target.exists():
                target.symlink_to(entry)
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(index.wheels),
            str(index.source),
        ],
        folder,
        dict(os.environ, **index.env()),
        check=True,
    )
    (folder / "ready").touch()
    return index


# --- a local runner for a composite action ---------------------------------------------------


@dataclass
class ActionRun:
    codes: dict[str, int] = field(default_factory=dict)  # step name -> exit code
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # step id -> outputs
    out: str = ""

    @property
    def code(self) -> int:
        return list(self.codes.values())[-1]


def _evaluate(text: str, inputs: dict[str, str], outputs: dict[str, dict[str, str]]) -> str:
    def one(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression.startswith("inputs."):
            return inputs[expression.removeprefix("inputs.")]
        step = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
        if step:
            return outputs.get(step[1], {}).get(step[2], "")
        raise AssertionError(f"the local runner does not evaluate ${{{{ {expression} }}}}")

    return _EXPRESSION.sub(one, text)


def _read_outputs(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines())
    for line in lines:
        if "<<" in line and "=" not in line.split("<<", 1)[0]:
            name, delimiter = line.split("<<", 1)
            found[name] = "\n".join(iter(lambda: next(lines), delimiter))
        elif "=" in line:
            name, value = line.split("=", 1)
            found[name] = value
    return found


def run_action(
    workspace: Path,
    env: dict[str, str],
    summary: Path,
    *,
    only: tuple[str, ...] = (),
    outputs: dict[str, dict[str, str]] | None = None,
    **given: str,
) -> ActionRun:
    """Run action.yml's steps (those whose id is in `only`, else all) as a runner would."""
    action = load_action()
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    unknown = set(given) - set(inputs)
    assert not unknown, f"the action has no input {unknown}"
    inputs.update(given)
    result = ActionRun(outputs={"python": {"python-path": sys.executable}, **(outputs or {})})
    scratch = summary.parent / "runner-files"
    scratch.mkdir(exist_ok=True)
    for number, step in enumerate(action["runs"]["steps"]):
        if "uses" in step or (only and step.get("id") not in only):
            continue
        assert step["shell"] == "bash", step
        script = scratch / f"step{number}.sh"
        script.write_text(step["run"], encoding="utf-8")
        output_file = scratch / f"output{number}"
        output_file.write_text("", encoding="utf-8")
        step_env = dict(env, GITHUB_OUTPUT=str(output_file), GITHUB_STEP_SUMMARY=str(summary))
        step_env.update(
            {k: _evaluate(str(v), inputs, result.outputs) for k, v in step.get("env", {}).items()}
        )
        folder = workspace / _evaluate(step.get("working-directory", "."), inputs, result.outputs)
        done = run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], folder, step_env)
        result.codes[step["name"]] = done.code
        result.out += done.out + done.err
        if "id" in step:
            result.outputs[step["id"]] = _read_outputs(output_file)
        if done.code != 0:
            break
    return result


# --- fixtures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Runner:
    """The machine: the Action's path, its temp folder with agentpolicy installed, the job's env."""

    index: OfflineIndex
    temp: Path
    outputs: dict[str, dict[str, str]]

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        env = clean_env(home, **self.index.env())
        env.update(
            GITHUB_ACTIONS="true",
            GITHUB_ACTION_PATH=str(self.index.source),
            RUNNER_TEMP=str(self.temp),
            PATH=os.defpath,  # no agentpolicy on PATH: the Action must use the one it installed
        )
        env.update(extra)
        return env


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Runner:
    """The Action's install step, run once for the module as written (the default: its own path)."""
    index = offline_index(tmp_path_factory.getbasetemp())
    temp = tmp_path_factory.mktemp("runner-temp")
    home = tmp_path_factory.mktemp("runner-home")
    partial = Runner(index, temp, {})
    done = run_action(temp, partial.env(home), temp / "summary.md", only=("install",))
    assert done.codes == {"Install agentpolicy": 0}, done.out
    return Runner(index, temp, done.outputs)


@dataclass(frozen=True)
class PullRequest:
    workspace: Path
    clone: Path
    env: dict[str, str]
    summary: Path


def pull_request(tmp_path: Path, runner: Runner, keys: dict[str, Key], *, approved: bool) -> PullRequest:
    """origin/main holds the approved billing agent; the checked-out branch raises its version."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    _origin, clone = feature_clone(tmp_path, keys, workspace / "repo", approved=approved)
    home = clone.home
    summary = tmp_path / "step-summary.md"
    env = runner.env(
        home, GITHUB_EVENT_NAME="pull_request", GITHUB_BASE_REF="main", GITHUB_HEAD_REF="feature"
    )
    return PullRequest(workspace, clone.path, env, summary)


def check_step(pr: PullRequest, runner: Runner, **inputs: str) -> ActionRun:
    inputs.setdefault("path", "repo")
    return run_action(pr.workspace, pr.env, pr.summary, only=("check",), outputs=runner.outputs, **inputs)


# --- the action file itself -------------------------------------------------------------------


def test_action_validates_against_the_github_actions_metadata_schema() -> None:
    done = run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(ACTION_FILE)],
        ROOT,
        dict(os.environ),
    )
    assert done.code == 0, done.text


def test_action_passes_zizmor_offline_with_its_default_rules(tmp_path: Path) -> None:
    done = run(
        [str(BIN / "zizmor"), "--offline", "--no-config", "--persona", "auditor", str(ACTION_FILE)],
        tmp_path,
        dict(os.environ, NO_COLOR="1"),
    )
    assert done.code == 0, done.text


def test_action_inputs_stay_compatible() -> None:
    inputs = load_action()["inputs"]
    assert set(inputs) == {"base", "format", "version", "path", "sarif"}
    assert inputs["format"]["default"] == "github"
    assert inputs["path"]["default"] == "."
    assert all(not spec.get("required", False) for spec in inputs.values())


def test_action_sets_up_its_own_python_3_11_or_newer_pinned_by_commit() -> None:
    """The runner's python3 is 3.10 on ubuntu-22.04, and its system pip refuses to install on 24.04."""
    steps = load_action()["runs"]["steps"]
    uses = [step for step in steps if "uses" in step]
    assert len(uses) == 1
    setup = uses[0]
    name, _, ref = setup["uses"].partition("@")
    assert name == "actions/setup-python"
    assert FULL_SHA.match(ref), f"pin by full commit SHA, not {ref!r}"
    assert steps.index(setup) == 0 and setup["id"] == "python"
    wanted = str(setup["with"]["python-version"])
    major, minor = (int(part) for part in re.findall(r"\d+", wanted)[:2])
    assert (major, minor) >= (3, 11) and not wanted.startswith(("<", "~", "^")), wanted
    # it leaves the workflow's own Python alone, and the install uses the interpreter it set up
    assert setup["with"].get("update-environment") is False
    install = next(step for step in steps if step.get("id") == "install")
    assert install["env"]["PYTHON"] == "${{ steps.python.outputs.python-path }}"


def test_attack_no_input_is_spliced_into_a_shell_script() -> None:
    """`${{ inputs.x }}` inside `run:` is text-substituted before bash reads it: template injection."""
    for step in load_action()["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step["name"]


def test_install_lines_of_the_action_name_our_distribution() -> None:
    text = ACTION_FILE.read_text(encoding="utf-8")
    assert '"git-agentpolicy==$AGENTPOLICY_VERSION"' in text
    assert '"$GITHUB_ACTION_PATH"' in text


# --- the steps, run ---------------------------------------------------------------------------


def test_install_step_installs_the_actions_own_copy_into_its_own_venv(runner: Runner) -> None:
    installed = Path(runner.outputs["install"]["agentpolicy"])
    assert installed.is_relative_to(runner.temp)
    done = run([str(installed), "--version"], runner.temp, dict(os.environ, **runner.index.env()))
    assert done.code == 0 and agentpolicy.__version__ in done.out, done.text


def test_ci_mode_passes_an_approved_change_and_writes_the_summary(
    tmp_path: Path, runner: Runner, keys: dict[str, Key]
) -> None:
    pr = pull_request(tmp_path, runner, keys, approved=True)
    done = check_step(pr, runner)
    assert done.codes == {"Check agents": 0}, done.out
    summary = pr.summary.read_text(encoding="utf-8")
    assert "Check **passed**" in summary
    assert "| billing-cycle |" in summary and "**none**" not in summary


def test_ci_mode_refuses_an_unapproved_change_with_an_annotation_and_a_summary(
    tmp_path: Path, runner: Runner, keys: dict[str, Key]
) -> None:
    pr = pull_request(tmp_path, runner, keys, approved=False)
    done = check_step(pr, runner)
    assert done.codes == {"Check agents": 1}, done.out
    assert re.search(r"^::error file=agents/billing-cycle\.yaml,line=\d+", done.out, re.MULTILINE), done.out
    summary = pr.summary.read_text(encoding="utf-8")
    assert "Check **failed**" in summary and "**none**" in summary


def test_base_input_passes_an_approved_change_and_still_writes_the_summary(
    tmp_path: Path, runner: Runner, keys: dict[str, Key]
) -> None:
    pr = pull_request(tmp_path, runner, keys, approved=True)
    done = check_step(pr, runner, base="refs/remotes/origin/main")
    assert done.codes == {"Check agents": 0}, done.out
    assert "Check **passed**" in pr.summary.read_text(encoding="utf-8")


def test_base_input_refuses_an_unapproved_change_with_an_annotation_and_a_summary(
    tmp_path: Path, runner: Runner, keys: dict[str, Key]
) -> None:
    pr = pull_request(tmp_path, runner, keys, approved=False)
    done = check_step(pr, runner, base="refs/remotes/origin/main", sarif="agentpolicy.sarif")
    assert done.codes == {"Check agents": 1}, done.out
    assert re.search(r"^::error file=agents/billing-cycle\.yaml,line=\d+", done.out, re.MULTILINE), done.out
    assert "Check **failed**" in pr.summary.read_text(encoding="utf-8")
    assert '"ruleId"' in (pr.clone / "agentpolicy.sarif").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "inputs",
    [
        {"base": "$(touch pwned)"},
        {"base": "main; touch pwned"},
        {"base": '"; touch pwned; echo "'},
        {"base": "--format=text"},
        {"sarif": "x.sarif; touch pwned"},
        {"sarif": "$(touch pwned)"},
        {"format": "github --ci; touch pwned"},
    ],
)
def test_attack_hostile_input_values_never_run_in_a_shell(
    tmp_path: Path, runner: Runner, keys: dict[str, Key], inputs: dict[str, str]
) -> None:
    pr = pull_request(tmp_path, runner, keys, approved=True)
    done = check_step(pr, runner, **inputs)
    assert not list(tmp_path.rglob("pwned")), done.out
    if "base" in inputs:  # a revision that does not exist, taken as a revision: exit 2, not a pass
        assert done.codes == {"Check agents": 2}, done.out


def test_version_input_installs_that_release_of_git_agentpolicy(tmp_path: Path, runner: Runner) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = runner.env(home, RUNNER_TEMP=str(tmp_path))
    done = run_action(
        tmp_path, env, tmp_path / "summary.md", only=("install",), version=agentpolicy.__version__
    )
    assert done.codes == {"Install agentpolicy": 0}, done.out
    installed = Path(done.outputs["install"]["agentpolicy"])
    assert installed.is_relative_to(tmp_path)
    shown = run([str(installed), "--version"], tmp_path, dict(os.environ, **runner.index.env()))
    assert agentpolicy.__version__ in shown.out, shown.text


@pytest.mark.parametrize("version", ["0.1.0 --index-url http://127.0.0.1:9/", "0.1.0; touch pwned", "../x"])
def test_attack_version_input_that_is_not_a_version_is_refused(
    tmp_path: Path, runner: Runner, version: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = runner.env(home, RUNNER_TEMP=str(tmp_path))
    done = run_action(tmp_path, env, tmp_path / "summary.md", only=("install",), version=version)
    assert done.codes == {"Install agentpolicy": 2}, done.out
    assert "::error title=agentpolicy::the version input" in done.out
    assert not list(tmp_path.rglob("pwned"))


def test_no_pip_runs_outside_the_venv_the_action_made(runner: Runner) -> None:
    """System pip is refused on ubuntu-24.04 (PEP 668) and is Python 3.10 on 22.04."""
    install = next(step for step in load_action()["runs"]["steps"] if step.get("id") == "install")
    for line in install["run"].splitlines():
        if "pip install" in line:
            assert line.strip().startswith('"$venv_python" -m pip install'), line
    assert subprocess.run(["bash", "-n"], input=install["run"], text=True, check=False).returncode == 0
