"""Every install line we publish names our own distribution, `git-agentpolicy`.

The package index's `agentpolicy` is an unrelated project: a README, doc, Action or
error hint that says `pip install agentpolicy` installs someone else's code. The
import package and the command stay `agentpolicy`.
"""

from __future__ import annotations

import importlib.metadata
import re
import shlex
import tomllib
from pathlib import Path

import pytest

import agentpolicy

ROOT = Path(__file__).resolve().parent.parent
DISTRIBUTION = "git-agentpolicy"

# `pip install`, `pip3 install`, `python -m pip install`, `python3.12 -m pip install`, `uv pip install`
_PIP_INSTALL = re.compile(r"(?:\bpython[\d.]*\s+-m\s+)?\bpip3?\s+install\b(?P<rest>[^\n]*)")
_COMMAND_END = re.compile(r"&&|\|\||[;|`#)]")
_REQUIREMENT_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
_OPTIONS_WITH_VALUE = {"-r", "--requirement", "-c", "--constraint", "-i", "--index-url", "--extra-index-url"}
_OPTIONS_WITH_VALUE |= {"-f", "--find-links", "-t", "--target", "--prefix", "--root", "--python-version"}


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_names(line: str) -> list[str]:
    """The distribution names a line's `pip install` commands ask for (paths and URLs left out)."""
    names = []
    for match in _PIP_INSTALL.finditer(line):
        command = _COMMAND_END.split(match.group("rest"), maxsplit=1)[0]
        try:
            words = shlex.split(command)
        except ValueError:  # an unbalanced quote in prose: read it word by word
            words = command.split()
        skip_next = False
        for word in words:
            word = word.strip("'\"")
            if skip_next:
                skip_next = False
                continue
            if word in _OPTIONS_WITH_VALUE:
                skip_next = True
                continue
            if word.startswith("-") or word.startswith((".", "/", "$", "~")) or "://" in word:
                continue
            found = _REQUIREMENT_NAME.match(word)
            if found:
                names.append(_normalized(found.group(1)))
    return names


def published_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "action.yml"]
    files += sorted((ROOT / "docs").rglob("*"))
    files += sorted((ROOT / "agentpolicy").rglob("*.py"))
    return [path for path in files if path.is_file()]


@pytest.mark.parametrize(
    "line",
    [
        "pip install agentpolicy",
        "pip install -U agentpolicy",
        'pip install "agentpolicy==0.1.0"',
        "pip install 'agentpolicy>=0.1'",
        "pip install agentpolicy[test]",
        "python -m pip install agentpolicy",
        "python3 -m pip install --quiet agentpolicy && agentpolicy check --ci",
        "  - run: pip3 install --upgrade Agent_Policy==1 agentpolicy",
        'python3 -m pip install --quiet "agentpolicy==$AGENTPOLICY_VERSION"',
        "`pip install agentpolicy`",
    ],
)
def test_attack_install_line_naming_the_unrelated_agentpolicy_project_is_caught(line: str) -> None:
    assert "agentpolicy" in installed_names(line)


@pytest.mark.parametrize(
    "line",
    [
        "pip install git-agentpolicy",
        'python -m pip install "git-agentpolicy==0.1.0"',
        "python -m pip install . && agentpolicy check examples/agents",
        "python -m pip install -e '.[test]' && python -m pytest",
        'python3 -m pip install --quiet "$GITHUB_ACTION_PATH"',
        "pre-commit install               # turn the hook on (pip install pre-commit)",
        "pip install -r requirements.txt agentpolicy-extras",
    ],
)
def test_install_lines_of_our_distribution_or_other_tools_pass(line: str) -> None:
    assert "agentpolicy" not in installed_names(line)


def test_no_published_install_line_names_the_unrelated_agentpolicy_project() -> None:
    offending = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in published_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "agentpolicy" in installed_names(line)
    ]
    assert not offending, "install lines must say `pip install git-agentpolicy`:\n" + "\n".join(offending)


def test_published_install_lines_name_git_agentpolicy() -> None:
    """The user-facing install lines exist and say the new name (not only that the old one is gone)."""
    for relative in ("docs/ci.md", "action.yml"):
        text = (ROOT / relative).read_text(encoding="utf-8")
        names = [name for line in text.splitlines() for name in installed_names(line)]
        assert DISTRIBUTION in names, relative


def test_distribution_is_git_agentpolicy_and_the_import_package_and_command_stay() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == DISTRIBUTION
    assert project["scripts"] == {"agentpolicy": "agentpolicy.launcher:main"}
    assert importlib.metadata.version(DISTRIBUTION) == agentpolicy.__version__
    assert "agentpolicy" in importlib.metadata.distribution(DISTRIBUTION).read_text("top_level.txt").split()


def test_no_code_asks_the_package_metadata_for_the_old_distribution_name() -> None:
    asks_old_name = re.compile(
        r"\b(?:version|distribution|metadata|files|requires|entry_points)\(\s*['\"]agentpolicy['\"]"
    )
    offending = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "agentpolicy").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if asks_old_name.search(line)
    ]
    assert not offending
