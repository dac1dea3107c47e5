"""`agentpolicy init`: the pre-commit config it appends to (in every style a valid config may take), the
offline hook that works on day one, the commit/merge/push hooks, the first signer, `--solo`, and a
dry run that tells the truth. Real git, real pre-commit, real ssh-keygen; the network is never used."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import AGENTPOLICY, GitRepo, Key, Run, make_key, run

PRE_COMMIT = [sys.executable, "-m", "pre_commit"]
CONFIG = ".pre-commit-config.yaml"
BIN = str(Path(sys.executable).parent)

# The hooks init adds: local, so they run offline on the first commit, before any release exists.
OUR_REPO = {
    "repo": "local",
    "hooks": [
        {
            "id": "agentpolicy",
            "entry": "agentpolicy check --staged",
            "language": "system",
            "pass_filenames": False,
            "always_run": True,
            "stages": ["pre-commit", "pre-merge-commit"],
        },
        {
            "id": "agentpolicy-push",
            "entry": "agentpolicy check --pushed",
            "language": "system",
            "pass_filenames": False,
            "always_run": True,
            "stages": ["pre-push"],
        },
    ],
}

NOTHING = "{id: nothing, name: nothing, entry: 'true', language: system}"

# Valid pre-commit configs as people write them; each has an offline hook so a real run is cheap.
STYLES: dict[str, bytes] = {
    "four_space_sample_config_style": (
        b"# See https://pre-commit.com for more information\n"
        b"repos:\n"
        b"-   repo: local\n"
        b"    hooks:\n"
        b"    -   id: nothing\n"
        b"        name: nothing\n"
        b"        entry: 'true'\n"
        b"        language: system\n"
    ),
    "two_space_with_comments_and_keys_after": (
        b"# Our hooks. Do not reorder: the formatter must run first.\n"
        b"default_stages: [pre-commit]\n"
        b"repos:\n"
        b"  # formatting\n"
        b"  - repo: local\n"
        b"    hooks:\n"
        b"      - id: nothing   # pinned on purpose\n"
        b"        name: nothing\n"
        b"        entry: 'true'\n"
        b"        language: system\n"
        b"\n"
        b"  # trailing comment about the list\n"
        b"# a comment at column zero\n"
        b"fail_fast: false\n"
    ),
    "flow_style": f"repos: [{{repo: local, hooks: [{NOTHING}]}}]\n".encode(),
    "flow_style_over_lines_with_trailing_comma_and_comment": (
        f"repos: [\n  {{repo: local, hooks: [{NOTHING}]}},  # ours\n]\nfail_fast: false\n".encode()
    ),
    "flow_style_empty_list": b"repos: []\n",
    "whole_file_flow_mapping": b"{repos: [], fail_fast: false}\n",
    "crlf_line_endings": (
        b"repos:\r\n  - repo: local\r\n    hooks:\r\n      - id: nothing\r\n        name: nothing\r\n"
        b"        entry: 'true'\r\n        language: system\r\n"
    ),
    "no_trailing_newline": (
        b"repos:\n  - repo: local\n    hooks:\n      - id: nothing\n        name: nothing\n"
        b"        entry: 'true'\n        language: system"
    ),
    "compact_nested_list_and_block_scalar_last": (
        b"repos:\n"
        b"- repo: local\n"
        b"  hooks:\n"
        b"  - id: nothing\n"
        b"    name: nothing\n"
        b"    entry: 'true'\n"
        b"    language: system\n"
        b"    description: |\n"
        b"      Does nothing.\n"
        b"\n"
        b"      Twice.\n"
        b"minimum_pre_commit_version: '3.2.0'\n"
    ),
}


def hook_env(repo: GitRepo, pre_commit_home: Path) -> dict[str, str]:
    """The repository's environment with this installation's `agentpolicy` and `pre-commit` first on
    PATH (as after `pip install`), and every network route closed: proxies to a dead port, and git
    allowed only the file protocol, so a hook that tried to clone would fail instead of passing."""
    env = dict(repo.env)
    env.update(
        PATH=BIN + os.pathsep + env.get("PATH", ""),
        PRE_COMMIT_HOME=str(pre_commit_home),
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        GIT_ALLOW_PROTOCOL="file",
    )
    return env


@pytest.fixture
def offline(repo: GitRepo, tmp_path: Path) -> GitRepo:
    repo.env = hook_env(repo, tmp_path / "pre-commit-home")
    return repo


def pre_commit(repo: GitRepo, *args: str) -> Run:
    return run([*PRE_COMMIT, *args], repo.path, repo.env)


def git(repo: GitRepo, *args: str) -> Run:
    return run(["git", *args], repo.path, repo.env)


def with_signing_key(repo: GitRepo, key: Key) -> None:
    repo.git("config", "gpg.format", "ssh")
    repo.git("config", "user.signingkey", str(key.public))


def inserted_once(before: bytes, after: bytes) -> bytes:
    """The one run of bytes init inserted, asserting that every original byte is kept in order."""
    prefix = 0
    while prefix < len(before) and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while suffix < len(before) - prefix and before[-1 - suffix] == after[-1 - suffix]:
        suffix += 1
    assert prefix + suffix == len(before), "init changed bytes of the existing config"
    return after[prefix : len(after) - suffix]


def our_repo_in(text: bytes) -> dict:
    repos = yaml.safe_load(text)["repos"]
    ours = [r for r in repos if any(h.get("id") == "agentpolicy" for h in r.get("hooks", []))]
    assert len(ours) == 1, repos
    return ours[0]


def assert_is_our_repo(found: dict) -> None:
    assert found["repo"] == "local"
    for hook, expected in zip(found["hooks"], OUR_REPO["hooks"], strict=True):
        assert {key: hook.get(key) for key in expected} == expected


@pytest.mark.parametrize("style", sorted(STYLES))
def test_init_appends_the_local_hooks_to_a_valid_config_in_any_style(offline: GitRepo, style: str) -> None:
    original = STYLES[style]
    offline.write(CONFIG, original)
    done = offline.ap("init")
    assert done.code == 0, done.text
    assert f"append  {CONFIG}" in done.out
    updated = (offline.path / CONFIG).read_bytes()
    added = inserted_once(original, updated)
    if b"\r\n" in original:
        assert b"\n" not in added.replace(b"\r\n", b""), "CRLF file got LF lines"
    valid = pre_commit(offline, "validate-config", CONFIG)
    assert valid.code == 0, valid.text
    before, after = yaml.safe_load(original), yaml.safe_load(updated)
    assert after["repos"][:-1] == before["repos"]
    assert_is_our_repo(after["repos"][-1])
    assert {k: v for k, v in after.items() if k != "repos"} == {
        k: v for k, v in before.items() if k != "repos"
    }
    # The result runs: the existing hook and ours, offline.
    offline.stage()
    ran = pre_commit(offline, "run", "--hook-stage", "pre-commit")
    assert ran.code == 0, ran.text
    assert "agentpolicy" in ran.out and "Passed" in ran.out
    again = offline.ap("init")
    assert again.code == 0, again.text
    assert "already runs the agentpolicy hook" in again.out
    assert (offline.path / CONFIG).read_bytes() == updated


def test_init_appends_to_the_config_pre_commit_sample_config_writes(offline: GitRepo) -> None:
    sample = pre_commit(offline, "sample-config")
    assert sample.code == 0 and "-   repo:" in sample.out
    offline.write(CONFIG, sample.out)
    done = offline.ap("init")
    assert done.code == 0, done.text
    updated = (offline.path / CONFIG).read_bytes()
    inserted_once(sample.out.encode(), updated)
    assert b"\n-   repo: local\n    hooks:\n    -   id: agentpolicy\n" in updated  # its own style
    assert pre_commit(offline, "validate-config", CONFIG).code == 0
    assert_is_our_repo(yaml.safe_load(updated)["repos"][-1])


UNSAFE = {
    "broken_yaml": (b"repos: [\n  {repo: local\n", ".pre-commit-config.yaml:3: not valid YAML"),
    "not_a_pre_commit_config": (b"repos:\n  - repo: local\n", "not a valid pre-commit config"),
    "a_list_at_the_top": (b"- repo: local\n  hooks: []\n", "not a valid pre-commit config"),
    "not_utf8": (b"repos: []\n# caf\xe9\n", "not UTF-8"),
    "repos_by_alias": (
        b"x-shared: &shared []\nrepos: *shared\n",
        "cannot add the hooks to its `repos:` list safely",
    ),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_attack_init_on_a_config_it_cannot_append_to_leaves_it_untouched_and_prints_the_snippet(
    repo: GitRepo, case: str
) -> None:
    original, why = UNSAFE[case]
    repo.write(CONFIG, original)
    for _ in range(2):  # and the second run says the same: never a raw parser error
        done = repo.ap("init")
        assert done.code == 0, done.text
        assert (repo.path / CONFIG).read_bytes() == original
        assert why in done.err, done.err
        assert "left untouched" in done.err
        assert "<unicode string>" not in done.text and "Traceback" not in done.text
        assert "- repo: local" in done.out and "entry: agentpolicy check --staged" in done.out
        snippet = done.out[done.out.index("- repo: local") :]
        assert "pre-merge-commit" in snippet


def test_the_printed_snippet_is_itself_a_valid_repos_entry(repo: GitRepo) -> None:
    repo.write(CONFIG, b"repos: [\n")
    done = repo.ap("init")
    lines = done.out.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("  # add under `repos:`")) + 1
    snippet = []
    for line in lines[start:]:
        if not line.startswith("    "):
            break
        snippet.append(line[2:])
    assert_is_our_repo(yaml.safe_load("repos:\n" + "\n".join(snippet) + "\n")["repos"][0])


def test_a_new_config_installs_commit_merge_and_push_hooks(offline: GitRepo) -> None:
    assert offline.ap("init").code == 0
    config = yaml.safe_load(offline.read(CONFIG))
    assert config["default_install_hook_types"] == ["pre-commit", "pre-merge-commit", "pre-push"]
    assert_is_our_repo(config["repos"][0])
    installed = pre_commit(offline, "install")
    assert installed.code == 0, installed.text
    for hook in ("pre-commit", "pre-merge-commit", "pre-push"):
        assert (offline.path / ".git" / "hooks" / hook).exists(), hook


def test_an_existing_config_without_install_types_gets_the_install_line(repo: GitRepo) -> None:
    repo.write(CONFIG, STYLES["flow_style_empty_list"])
    done = repo.ap("init")
    assert "pre-commit install --hook-type pre-commit --hook-type pre-merge-commit --hook-type pre-push" in (
        done.out
    )


def test_attack_first_commit_offline_with_no_release_tag_runs_the_hook(offline: GitRepo, keys: dict) -> None:
    with_signing_key(offline, keys["dev"])
    assert offline.ap("init").code == 0
    assert pre_commit(offline, "install").code == 0
    offline.stage()
    first = git(offline, "commit", "-m", "Guard agents")
    assert first.code == 0, first.text
    assert "agentpolicy" in first.text and "Passed" in first.text
    # The hook really runs: an unapproved agent is refused.
    assert offline.ap("new", "invoice-triage").code == 0
    offline.stage()
    refused = git(offline, "commit", "-m", "Add invoice-triage")
    assert refused.code == 1 and "AP201" in refused.text


def test_attack_merge_of_an_unapproved_agent_is_refused_by_the_pre_merge_commit_hook(
    offline: GitRepo, keys: dict
) -> None:
    with_signing_key(offline, keys["dev"])
    assert offline.ap("init").code == 0
    assert pre_commit(offline, "install").code == 0
    offline.commit("Guard agents", verify=True)
    offline.git("switch", "-q", "-c", "feature")
    assert offline.ap("new", "sneaky").code == 0
    offline.commit("sneaky agent, past the hook")  # --no-verify
    offline.git("switch", "-q", "main")
    offline.write("README.md", "hello\n")
    offline.commit("docs", verify=True)
    head = offline.git("rev-parse", "HEAD")
    merged = git(offline, "merge", "--no-edit", "feature")
    assert merged.code != 0, merged.text
    assert "AP201" in merged.text and "sneaky" in merged.text
    assert offline.git("rev-parse", "HEAD") == head
    finished = git(offline, "commit", "--no-edit")  # and finishing the merge by hand is refused too
    assert finished.code != 0 and "AP201" in finished.text
    assert offline.git("rev-parse", "HEAD") == head


def test_init_seeds_the_first_signer_from_git_and_prints_no_key_advice(repo: GitRepo, keys: dict) -> None:
    with_signing_key(repo, keys["dev"])
    done = repo.ap("init")
    assert done.code == 0, done.text
    assert "seeded with your git SSH signing key" in done.out
    assert keys["dev"].signer_line() in repo.read(".agentpolicy/allowed_signers")
    assert "ssh-keygen" not in done.text


def test_init_without_a_signing_key_prints_commands_that_work_as_written(repo: GitRepo) -> None:
    done = repo.ap("init")
    assert done.code == 0, done.text
    text = done.text
    assert "ssh-keygen -t ed25519 -f ~/.ssh/id_ed25519" in text
    lines = [line.strip() for line in text.splitlines()]
    config_lines = [line for line in lines if line.startswith("git config --global")]
    assert config_lines == [
        "git config --global gpg.format ssh",
        "git config --global user.signingkey ~/.ssh/id_ed25519.pub",
    ]
    echo = next(line for line in lines if line.startswith("echo "))
    assert echo == (
        'echo "dev@example.com namespaces=\\"agentpolicy-review\\" $(cat ~/.ssh/id_ed25519.pub)"'
        " >> .agentpolicy/allowed_signers"
    )
    # Follow them (the key made without a passphrase prompt), then approve: the signer counts.
    key = make_key(repo.home / ".ssh", "id_ed25519@example.com")
    key.private.rename(repo.home / ".ssh" / "id_ed25519")
    key.public.rename(repo.home / ".ssh" / "id_ed25519.pub")
    for line in [*config_lines, echo]:
        assert run(["bash", "-c", line], repo.path, repo.env).code == 0, line
    signers = repo.read(".agentpolicy/allowed_signers")
    assert 'dev@example.com namespaces="agentpolicy-review" ssh-ed25519 ' in signers
    assert repo.ap("init").code == 0 and "ssh-keygen" not in repo.ap("init").text


def test_init_skips_the_keygen_line_when_the_key_exists(repo: GitRepo) -> None:
    key = make_key(repo.home / ".ssh", "id_ed25519@example.com")
    key.private.rename(repo.home / ".ssh" / "id_ed25519")
    key.public.rename(repo.home / ".ssh" / "id_ed25519.pub")
    done = repo.ap("init")
    assert "ssh-keygen" not in done.text
    assert "git config --global user.signingkey ~/.ssh/id_ed25519.pub" in done.text


def test_init_solo_allows_self_approval_with_a_warning_and_the_way_back(repo: GitRepo) -> None:
    done = repo.ap("init", "--solo")
    assert done.code == 0, done.text
    config = yaml.safe_load(repo.read(".agentpolicy.yaml"))
    assert config["allow_self_approval"] is True
    assert "warning:" in done.err and "second person" in done.err
    assert "allow_self_approval: false" in done.err and "agentpolicy approve --trust-root" in done.err
    plain = repo.ap("init", "--solo")  # already there: left as it is, and it says so
    assert plain.code == 0 and "already there" in plain.out


def test_init_solo_on_an_existing_config_says_how_to_set_it_by_hand(repo: GitRepo) -> None:
    repo.write(".agentpolicy.yaml", "allow_self_approval: false\n")
    done = repo.ap("init", "--solo")
    assert done.code == 0, done.text
    assert repo.read(".agentpolicy.yaml") == "allow_self_approval: false\n"
    assert "allow_self_approval: true" in done.err and "approve --trust-root" in done.err


def test_self_approval_without_solo_names_the_solo_option_in_its_fix(repo: GitRepo, keys: dict) -> None:
    with_signing_key(repo, keys["dev"])
    assert repo.ap("init").code == 0
    repo.commit("guard")
    assert repo.ap("new", "invoice-triage").code == 0
    assert repo.ap("approve", "invoice-triage").code == 0
    done = repo.ap("check")
    assert done.code == 1 and "AP205" in done.out
    fix = done.out[done.out.index("AP205") :].splitlines()[1]
    assert "allow_self_approval: true" in fix and "init --solo" in fix


def test_a_solo_maintainer_turns_self_approval_off_with_a_trust_root_approval(
    offline: GitRepo, keys: dict
) -> None:
    with_signing_key(offline, keys["dev"])
    assert offline.ap("init", "--solo").code == 0
    assert pre_commit(offline, "install").code == 0
    offline.commit("guard", verify=True)
    offline.write(
        ".agentpolicy.yaml",
        offline.read(".agentpolicy.yaml").replace("allow_self_approval: true", "allow_self_approval: false"),
    )
    assert offline.ap("approve", "--trust-root").code == 0
    offline.stage()
    done = git(offline, "commit", "-m", "A second person from now on")
    assert done.code == 0, done.text
    assert offline.ap("new", "invoice-triage").code == 0
    assert offline.ap("approve", "invoice-triage").code == 0
    offline.stage()
    refused = git(offline, "commit", "-m", "self-approved")
    assert refused.code == 1 and "AP205" in refused.text


def test_init_dry_run_lists_exactly_what_init_then_does(repo: GitRepo, keys: dict) -> None:
    with_signing_key(repo, keys["dev"])
    repo.write(CONFIG, STYLES["flow_style"])
    planned = repo.ap("init", "--solo", "--dry-run")
    assert planned.code == 0, planned.text
    assert not (repo.path / ".agentpolicy.yaml").exists()
    assert (repo.path / CONFIG).read_bytes() == STYLES["flow_style"]
    done = repo.ap("init", "--solo")
    assert done.code == 0, done.text

    def actions(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.startswith("  ") and "  (" in line]

    assert actions(planned.out) == actions(done.out)
    assert len(actions(done.out)) == 5
    assert "pre-commit install" in planned.out  # init itself never writes into .git/hooks
    assert not (repo.path / ".git" / "hooks" / "pre-commit").exists()


def test_the_local_hooks_init_writes_match_the_published_hook_definitions() -> None:
    """One hook, two ways to get it: the release-pinned form (`.pre-commit-hooks.yaml`) runs the same
    command at the same stages as the local form init writes, pre-merge-commit included."""
    published = yaml.safe_load(
        (Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml").read_text()
    )
    assert [hook["id"] for hook in published] == [hook["id"] for hook in OUR_REPO["hooks"]]
    for hook, local in zip(published, OUR_REPO["hooks"], strict=True):
        for key in ("entry", "pass_filenames", "always_run", "stages"):
            assert hook[key] == local[key], (hook["id"], key)


def test_attack_turning_self_approval_on_later_needs_a_second_signer(repo: GitRepo, keys: dict) -> None:
    """Why the README says to choose --solo at init: once the trust root is committed, an author
    cannot grant themselves self-approval by approving that change themselves."""
    with_signing_key(repo, keys["dev"])
    assert repo.ap("init").code == 0
    repo.commit("guard")
    repo.write(
        ".agentpolicy.yaml",
        repo.read(".agentpolicy.yaml").replace("allow_self_approval: false", "allow_self_approval: true"),
    )
    assert repo.ap("approve", "--trust-root").code == 0
    repo.stage()
    done = repo.ap("check", "--staged")
    assert done.code == 1 and "AP205" in done.out, done.text


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_files_init_and_new_write_honour_the_umask_and_an_appended_file_keeps_its_mode(
    repo: GitRepo, umask: int
) -> None:
    repo.write(CONFIG, STYLES["flow_style_empty_list"])
    (repo.path / CONFIG).chmod(0o664)
    for command in ("init", "new invoice-triage"):
        done = run(["bash", "-c", f"umask {umask:03o} && {AGENTPOLICY} {command}"], repo.path, repo.env)
        assert done.code == 0, done.text
    for path in (
        ".agentpolicy.yaml",
        "agents/.gitkeep",
        ".agentpolicy/allowed_signers",
        "agents/invoice-triage.yaml",
    ):
        assert (repo.path / path).stat().st_mode & 0o777 == 0o666 & ~umask, path
    assert (repo.path / ".agentpolicy").stat().st_mode & 0o777 == 0o777 & ~umask
    assert (repo.path / CONFIG).stat().st_mode & 0o777 == 0o664


def test_without_pre_commit_importable_a_structural_check_stands_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentpolicy.app.precommit_config import plan_hook_edit

    for module in ("cfgv", "pre_commit", "pre_commit.clientlib"):
        monkeypatch.setitem(sys.modules, module, None)  # import now fails, as where pre-commit is absent
    for style in STYLES.values():
        edit = plan_hook_edit(style)
        assert edit.verb == "append", edit
        original = style
        updated = original[: edit.insert_at] + edit.content + original[edit.insert_at :]
        assert_is_our_repo(yaml.safe_load(updated)["repos"][-1])
    for original, problem in (
        (b"repos:\n  - repo: local\n", "repo 1 needs a `hooks:` list"),
        (b"- repo: local\n", "must be a mapping"),
        (b"repos: {}\n", "`repos:` must be a list"),
    ):
        edit = plan_hook_edit(original)
        assert edit.verb == "skip" and problem in (edit.problem or ""), edit
