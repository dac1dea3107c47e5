"""Line endings (issue 15): a clean checkout is clean on every platform.

Git for Windows checks text files out with CRLF (`core.autocrlf=true`), and a
`.gitattributes` can ask for CRLF everywhere. What git would *store* is what
counts: the working tree is hashed after git's own clean conversion, so a fresh
clone is never "modified" and review entries are never "edited".
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import BILLING, GitRepo, Key, approve, guarded_repo


def recheckout(repo: GitRepo) -> None:
    """Write every file again from the index, as a clone with the current settings would."""
    subprocess.run(["git", "rm", "-q", "-r", "--cached", "."], cwd=repo.path, check=True, env=repo.env)
    repo.git("reset", "-q", "--hard")
    for path in repo.path.rglob("*.yaml"):
        path.unlink()
    repo.git("checkout", "-q", "--", ".")


def crlf_files(repo: GitRepo) -> list[Path]:
    return [
        p for p in repo.path.rglob("*") if p.is_file() and ".git" not in p.parts and b"\r\n" in p.read_bytes()
    ]


@pytest.mark.parametrize(
    "setting",
    ["autocrlf", "gitattributes-eol-crlf", "gitattributes-text"],
)
def test_a_clean_crlf_checkout_is_clean(setting: str, repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    if setting == "autocrlf":
        repo.git("config", "core.autocrlf", "true")
    else:
        spec = "* text=auto eol=crlf\n" if setting == "gitattributes-eol-crlf" else "*.yaml text eol=crlf\n"
        repo.write(".gitattributes", spec)
        repo.commit("attributes")
    recheckout(repo)
    assert crlf_files(repo), "the checkout did not produce CRLF files; the test would prove nothing"
    assert repo.git("status", "--porcelain") == ""
    for mode in ([], ["--staged"]):
        done = repo.ap("check", "--format", "json", *mode)
        assert done.code == 0, done.text
        report = json.loads(done.out)
        assert report["findings"] == [] and report["changes"] == [], report
    assert repo.ap("status", "--format", "json").code == 0


def test_a_real_edit_under_autocrlf_is_still_a_change(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.git("config", "core.autocrlf", "true")
    recheckout(repo)
    path = repo.path / "agents" / "billing-cycle.yaml"
    path.write_bytes(path.read_bytes().replace(b"version: 1.4.0 ", b"version: 1.4.1 "))
    done = repo.ap("check", "--format", "json")
    assert done.code == 1
    assert "AP201" in {f["rule"] for f in json.loads(done.out)["findings"]}
    assert approve(repo, keys["rev"]).code == 0
    assert repo.ap("check").code == 0


def test_an_entry_edited_only_in_its_line_endings_is_not_edited(repo: GitRepo, keys: dict[str, Key]) -> None:
    """CRLF in a working-tree entry is what git would normalise away under autocrlf: not an edit.
    Without any conversion setting, the same bytes are an edit (git would store them)."""
    guarded_repo(repo, keys)
    entry = next((repo.path / "reviews").rglob("*.yaml"))
    entry.write_bytes(entry.read_bytes().replace(b"\n", b"\r\n"))
    done = repo.ap("check", "--format", "json")
    assert done.code == 1 and "AP210" in done.out
    repo.git("config", "core.autocrlf", "true")
    done = repo.ap("check", "--format", "json")
    assert done.code == 0, done.text
    assert BILLING  # the agent itself untouched
