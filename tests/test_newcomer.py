"""demo, init and new: the newcomer's path, end to end, and docs that follow the code."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import yaml

from tests.helpers import AGENTPOLICY, GitRepo, clean_env, run

ROOT = Path(__file__).resolve().parent.parent

EXISTING = b"""\
# Our hooks. Do not reorder: the formatter must run first.
default_stages: [pre-commit]
repos:
  # formatting
  - repo: https://github.com/psf/black
    rev: 24.1.0   # pinned on purpose
    hooks:
      - id: black
        args: ["--line-length=100"]

  # trailing comment about the list
# a comment at column zero
fail_fast: false
"""


def test_demo_runs_the_whole_story_and_leaves_nothing(tmp_path: Path) -> None:
    env = clean_env(tmp_path, TMPDIR=str(tmp_path))
    done = run([AGENTPOLICY, "demo"], tmp_path, env)
    assert done.code == 0, done.text
    out = done.out
    assert "2. The policy check passes" in out and "All checks passed (2 agent files checked)." in out
    refused = out.index("4. Dana makes portal submission autonomous")
    assert "error AP201 billing-cycle 1.4.0 -> 1.5.0" in out[refused:]
    assert "(exit status 1)" in out[refused : out.index("5. Rita")]
    assert "approve billing-cycle 1.5.0" in out and ", signed" in out
    assert "6. The same commit now goes through" in out
    assert "3 governed change(s) in 2 commit(s); 0 unapproved." in out
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("agentpolicy-demo-")] == []


def test_demo_keep_prints_the_path_and_keeps_the_repo(tmp_path: Path) -> None:
    env = clean_env(tmp_path, TMPDIR=str(tmp_path))
    done = run([AGENTPOLICY, "demo", "--keep"], tmp_path, env)
    assert done.code == 0, done.text
    kept = next(p for p in tmp_path.iterdir() if p.name.startswith("agentpolicy-demo-")) / "repo"
    assert str(kept) in done.out
    assert (kept / "agents" / "billing-cycle.yaml").exists()


def test_the_demos_hook_never_imports_a_module_from_the_work_tree(tmp_path: Path) -> None:
    """The kept demo's hook runs this installation with -P: a `yaml.py` committed at the work
    tree's root (where plain `python -m` would look first) is never imported."""
    env = clean_env(tmp_path, TMPDIR=str(tmp_path))
    assert run([AGENTPOLICY, "demo", "--keep"], tmp_path, env).code == 0
    kept = next(p for p in tmp_path.iterdir() if p.name.startswith("agentpolicy-demo-")) / "repo"
    planted = tmp_path / "planted"
    (kept / "yaml.py").write_text(f"open({str(planted)!r}, 'w').close()\n", encoding="utf-8")
    config = kept / ".pre-commit-config.yaml"
    hook = kept / ".git" / "hooks" / "pre-commit"
    command = (
        yaml.safe_load(config.read_text())["repos"][0]["hooks"][0]["entry"]
        if config.exists()
        else hook.read_text().splitlines()[1].removeprefix("exec ")
    )
    assert " -P -m agentpolicy check --staged" in command
    done = run([*shlex.split(command)], kept, env)
    assert done.code in (0, 1), done.text
    assert not planted.exists()


def test_init_on_an_empty_repo_creates_everything_and_the_result_checks(repo: GitRepo) -> None:
    done = repo.ap("init")
    assert done.code == 0, done.text
    for path in (
        ".agentpolicy.yaml",
        "agents/.gitkeep",
        "reviews/.gitkeep",
        ".agentpolicy/allowed_signers",
        ".pre-commit-config.yaml",
    ):
        assert (repo.path / path).exists(), path
    assert "id: agentpolicy" in repo.read(".pre-commit-config.yaml")
    assert "Next steps:" in done.out
    assert repo.ap("check").code == 0


def test_init_twice_changes_nothing(repo: GitRepo) -> None:
    assert repo.ap("init").code == 0
    before = {p: p.read_bytes() for p in repo.path.rglob("*") if p.is_file() and ".git/" not in str(p)}
    done = repo.ap("init")
    assert done.code == 0
    assert "Nothing to do: already set up." in done.out
    after = {p: p.read_bytes() for p in repo.path.rglob("*") if p.is_file() and ".git/" not in str(p)}
    assert after == before


def test_init_appends_to_a_commented_pre_commit_config_keeping_every_byte(repo: GitRepo) -> None:
    repo.write(".pre-commit-config.yaml", EXISTING)
    done = repo.ap("init")
    assert done.code == 0, done.text
    updated = (repo.path / ".pre-commit-config.yaml").read_bytes()
    hook = b"  - repo: local\n    hooks:\n      - id: agentpolicy\n"
    assert hook in updated
    start = updated.index(hook)
    end = start + len(updated) - len(EXISTING)
    assert updated[:start] + updated[end:] == EXISTING
    import yaml

    repos = yaml.safe_load(updated)["repos"]
    assert [r["repo"] for r in repos] == ["https://github.com/psf/black", "local"]


def test_init_dry_run_shows_the_plan_and_writes_nothing(repo: GitRepo) -> None:
    repo.write(".pre-commit-config.yaml", EXISTING)
    done = repo.ap("init", "--dry-run")
    assert done.code == 0
    assert "Plan (nothing written, --dry-run):" in done.out
    assert "create  .agentpolicy.yaml" in done.out and "append  .pre-commit-config.yaml" in done.out
    assert (repo.path / ".pre-commit-config.yaml").read_bytes() == EXISTING
    assert not (repo.path / ".agentpolicy.yaml").exists()


def test_init_seeds_allowed_signers_with_the_git_signing_key(repo: GitRepo, keys: dict) -> None:
    repo.git("config", "gpg.format", "ssh")
    repo.git("config", "user.signingkey", str(keys["dev"].public))
    assert repo.ap("init").code == 0
    signers = repo.read(".agentpolicy/allowed_signers")
    assert f'dev@example.com namespaces="agentpolicy-review" {keys["dev"].public_text}' in signers


def test_new_scaffolds_a_pilot_that_passes_with_warnings_listing_the_gaps(repo: GitRepo) -> None:
    done = repo.ap("new", "invoice-triage")
    assert done.code == 0, done.text
    text = repo.read("agents/invoice-triage.yaml")
    assert "name: Dev Author" in text and "stage: pilot" in text
    check = repo.ap("check", "--format", "json", "agents/invoice-triage.yaml")
    report = json.loads(check.out)
    assert check.code == 0
    assert {f["rule"] for f in report["findings"]} == {"AP111", "AP112", "AP113", "AP114"}
    assert {f["severity"] for f in report["findings"]} == {"warning"}
    again = repo.ap("new", "invoice-triage")
    assert again.code == 2 and "already exists" in again.err
    assert repo.ap("new", "Bad_Name").code == 2


def test_docs_rules_md_is_generated_from_the_rules(tmp_path: Path) -> None:
    done = run([AGENTPOLICY, "rules", "--format", "markdown"], tmp_path, clean_env(tmp_path))
    assert (ROOT / "docs" / "rules.md").read_text() == done.out, (
        "docs/rules.md is stale: run `agentpolicy rules --format markdown > docs/rules.md`"
    )


def test_the_readme_example_command_works(tmp_path: Path) -> None:
    done = run([AGENTPOLICY, "check", str(ROOT / "examples" / "agents")], tmp_path, clean_env(tmp_path))
    assert done.code == 0, done.text


def test_the_examples_are_a_guarded_repo_whose_signed_reviews_verify(repo: GitRepo) -> None:
    import shutil

    for part in ("agents", "reviews", ".agentpolicy"):
        shutil.copytree(ROOT / "examples" / part, repo.path / part)
    repo.stage()
    done = repo.ap("check", "--staged", "--format", "json")
    report = json.loads(done.out)
    assert done.code == 0, report
    assert {c["agent"]: c["approved_by"] for c in report["changes"]} == {
        "billing-cycle": ["Rita Reviewer <finance-reviewer@example.com>"],
        "pdf-extraction": ["Rita Reviewer <finance-reviewer@example.com>"],
    }
