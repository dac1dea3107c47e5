"""Hostile files and hostile repositories: a clear verdict or a clear error, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import (
    AGENTPOLICY,
    BILLING,
    EXPANDED_BILLING,
    GitRepo,
    Key,
    agent_yaml,
    approve,
    clean_env,
    guarded_repo,
    run,
)


def no_traceback(done_text: str) -> None:
    assert "Traceback" not in done_text
    assert "internal error" not in done_text


def check_file(tmp_path: Path, content: bytes, name: str = "agent.yaml") -> tuple[int, str]:
    target = tmp_path / name
    target.write_bytes(content)
    done = run([AGENTPOLICY, "check", name], tmp_path, clean_env(tmp_path))
    no_traceback(done.text)
    return done.code, done.out


def nested_block(depth: int) -> bytes:
    return b"".join(b" " * level + f"k{level}:\n".encode() for level in range(depth)) + b" " * depth + b"x\n"


HOSTILE_YAML: dict[str, tuple[bytes, int, str]] = {
    # name: (content, expected exit status, expected text)
    "billion-laughs-deep": (
        b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        + b"".join(f"{c}: &{c} [{', '.join(['*' + chr(ord(c) - 1)] * 9)}]\n".encode() for c in "bcdefghi"),
        1,
        "aliases",
    ),
    "ten-thousand-deep-flow": (b"a: " + b"{b: " * 10_000 + b"1" + b"}" * 10_000 + b"\n", 1, "nesting"),
    "thousand-deep-block": (nested_block(1_000), 1, "nesting"),
    "fifty-megabytes": (b"a: '" + b"x" * (50 * 1024 * 1024) + b"'\n", 1, "larger than the limit"),
    "one-long-line": (
        # in an x- field: governed strings have length caps (issue 13, attack 12)
        BILLING.replace(
            "description: Generates", "x-notes: " + "x" * 900_000 + "\ndescription: Generates"
        ).encode(),
        0,
        "passed",
    ),
    "nul-in-the-middle": (BILLING.encode()[:100] + b"\x00" + BILLING.encode()[100:], 1, "NUL bytes"),
    "invalid-utf8-late": (BILLING.encode() + b"x-note: \xc3\x28\n", 1, "not valid UTF-8"),
    "utf16-le-bom": (b"\xff\xfe" + BILLING.encode("utf-16-le"), 1, "UTF-16"),
    "utf16-be-bom": (b"\xfe\xff" + BILLING.encode("utf-16-be"), 1, "UTF-16"),
    "crlf-line-endings": (BILLING.replace("\n", "\r\n").encode(), 0, "passed"),
    "mixed-line-endings": (
        BILLING.replace("kind: Agent\n", "kind: Agent\r\n")
        .replace("stage: production", "stage: production\r")
        .encode(),
        0,
        "passed",
    ),
    "old-mac-line-endings": (BILLING.replace("\n", "\r").encode(), 0, "passed"),
    "tab-indentation-nested": (
        BILLING.replace("  name: Anna Nowak", "\tname: Anna Nowak").encode(),
        1,
        "tabs",
    ),
    "tab-inside-quoted-value": (BILLING.replace("Anna Nowak", '"Anna\\tNowak"').encode(), 0, "passed"),
    "duplicate-key-top": (BILLING.encode() + b"stage: pilot\n", 1, "duplicate key 'stage'"),
    "duplicate-key-owner": (
        BILLING.replace("  email: anna", "  email: x@example.com\n  email: anna").encode(),
        1,
        "duplicate key 'email'",
    ),
    "duplicate-key-action-item": (
        BILLING.replace(
            "    - action: send-notifications\n", "    - action: send-notifications\n      action: x\n"
        ).encode(),
        1,
        "duplicate key 'action'",
    ),
    "duplicate-key-signal": (
        BILLING.replace("      alert: pagerduty", "      alert: x\n      alert: pagerduty").encode(),
        1,
        "duplicate key 'alert'",
    ),
    "duplicate-key-undo": (
        BILLING.replace("  human_checkpoint:", "  rollback: again\n  human_checkpoint:").encode(),
        1,
        "duplicate key 'rollback'",
    ),
    "python-object-apply": (b"!!python/object/apply:os.system ['touch /tmp/pwned']\n", 1, "tag"),
    "python-name": (b"a: !!python/name:os.system\n", 1, "tag"),
    "binary-tag-in-owner": (BILLING.replace("Anna Nowak", "!!binary QW5uYQ==").encode(), 1, "tag"),
    "set-tag": (b"a: !!set {x, y}\n", 1, "tag"),
    "omap-tag": (b"a: !!omap [x: 1]\n", 1, "tag"),
    "local-tag-on-mapping": (b"a: !custom {x: 1}\n", 1, "tag"),
    "verbatim-tag": (b"a: !<tag:example.com,2000:app> x\n", 1, "tag"),
    "version-1.10": (BILLING.replace("version: 1.4.0", "version: 1.10").encode(), 1, 'version: "1.10.0"'),
    "version-integer": (BILLING.replace("version: 1.4.0", "version: 2").encode(), 1, "must be a string"),
    "action-no": (BILLING.replace("action: send-notifications", "action: no").encode(), 1, 'action: "no"'),
    "action-on": (BILLING.replace("action: send-notifications", "action: on").encode(), 1, 'action: "on"'),
    "action-date": (
        BILLING.replace("action: send-notifications", "action: 2026-01-01").encode(),
        1,
        "not a date",
    ),
    "action-null": (
        BILLING.replace("action: send-notifications", "action: ~").encode(),
        1,
        "not empty (null)",
    ),
    "name-float": (BILLING.replace("name: billing-cycle", "name: 1.5").encode(), 1, "must be a string"),
    "stage-nan": (BILLING.replace("stage: production", "stage: .nan").encode(), 1, "stage"),
    "two-documents": (BILLING.encode() + b"---\nname: second\n", 1, "more than one YAML document"),
    "document-end-marker-then-more": (BILLING.encode() + b"...\n---\n{}\n", 1, "more than one YAML document"),
    "empty-document-marker": (b"---\n...\n", 1, "mapping"),
    "only-whitespace": (b"   \n\n  \n", 1, "file is empty"),
    "top-level-list": (b"- " + BILLING.replace("\n", "\n  ").encode(), 1, "mapping"),
    "top-level-number": (b"42\n", 1, "mapping"),
    "cyclic-alias": (b"a: &a [*a]\n", 1, "aliases"),
    "merge-key-inline": (b"<<: {stage: production}\nname: x\n", 1, "merge keys"),
    "complex-key": (b"? [a, b]\n: value\n", 1, "not a string"),
    "null-key": (b"~: value\n", 1, "not a string"),
    "huge-int": (
        BILLING.replace("approvals_required: 1", "approvals_required: " + "9" * 5000).encode(),
        1,
        "cannot be read",
    ),
    "bom-plus-crlf": (b"\xef\xbb\xbf" + BILLING.replace("\n", "\r\n").encode(), 0, "passed"),
    "control-char-in-value": (BILLING.replace("Anna Nowak", "Anna\x1bNowak").encode(), 1, "invalid YAML"),
    "unterminated-flow": (b"autonomy: {autonomous: [\n", 1, "invalid YAML"),
    "directive-yaml-1.1": (b"%YAML 1.1\n---\n" + BILLING.encode(), 0, "passed"),
    "unknown-directive": (b"%FOO bar\n---\n" + BILLING.encode(), 1, "unknown directive"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_YAML))
def test_hostile_yaml_gets_a_clear_verdict(tmp_path: Path, case: str) -> None:
    content, expected_code, expected_text = HOSTILE_YAML[case]
    code, out = check_file(tmp_path, content)
    assert code == expected_code, out[-2000:]
    assert expected_text in out if expected_code else "passed" in out


@pytest.mark.parametrize(
    "name", ["../etc", "a/b", "a\x00b", "a\nb", "billing-cy\u0441le"]
)  # last: a Cyrillic letter
def test_hostile_agent_names_are_refused(tmp_path: Path, name: str) -> None:
    text = BILLING.replace("name: billing-cycle", f"name: {json.dumps(name)}")
    code, out = check_file(tmp_path, text.encode())
    assert code == 1
    assert "AP100" in out and "`name`" in out


def test_two_names_differing_by_a_look_alike_letter_do_not_both_pass(tmp_path: Path) -> None:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "a.yaml").write_text(BILLING)
    (tmp_path / "agents" / "b.yaml").write_text(
        BILLING.replace("name: billing-cycle", "name: billing-cy\u0441le")
    )
    done = run([AGENTPOLICY, "check", "agents"], tmp_path, clean_env(tmp_path))
    assert done.code == 1
    assert "agents/b.yaml:3:1: error AP100" in done.out


def test_approve_refuses_a_path_like_agent_name(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    done = approve(repo, keys["rev"], "../../etc/passwd")
    assert done.code == 2
    assert "not a valid agent name" in done.err
    assert not (repo.path.parent / "etc").exists()


@pytest.mark.parametrize("target", ["inside", "outside"])
def test_agent_files_that_are_symlinks_are_refused(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path, target: str
) -> None:
    guarded_repo(repo, keys)
    real = repo.path / "docs" / "agent.yaml" if target == "inside" else tmp_path / "outside.yaml"
    real.parent.mkdir(exist_ok=True)
    real.write_text(agent_yaml())
    os.symlink(real, repo.path / "agents" / "linked.yaml")
    repo.stage()
    for args in (("check",), ("check", "--staged")):
        done = repo.ap(*args)
        no_traceback(done.text)
        assert done.code == 1
        assert "agents/linked.yaml:1:1: error AP001 agent file is a symbolic link" in done.out


def test_a_review_entry_that_is_a_symlink_is_refused(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    entry = next((repo.path / "reviews" / "billing-cycle" / "1.5.0").glob("*.yaml"))
    moved = repo.path / "elsewhere.yaml"
    entry.rename(moved)
    os.symlink(moved, entry)
    done = repo.ap("check")
    assert done.code == 1
    assert "review entry is a symbolic link" in done.out


@pytest.mark.parametrize(
    "name", [b"bad\xff.yaml", b"new\nline.yaml", b"tab\there.yaml", b"\xe2\x80\xaerlo.yaml"]
)
def test_file_names_with_control_or_non_utf8_bytes(repo: GitRepo, keys: dict[str, Key], name: bytes) -> None:
    guarded_repo(repo, keys)
    path = os.path.join(os.fsencode(repo.path), b"agents", name)
    with open(path, "wb") as handle:
        handle.write(agent_yaml().encode())
    for args in (("check",), ("check", "--format", "json"), ("check", "--format", "sarif")):
        done = repo.ap(*args)
        no_traceback(done.text)
        assert done.code == 1
    text = repo.ap("check").out
    assert all(line.isprintable() for line in text.splitlines())  # every path stays on one line
    repo.stage()
    staged = repo.ap("check", "--staged")
    no_traceback(staged.text)
    assert staged.code == 1
    assert all(line.isprintable() for line in staged.out.splitlines())


def test_a_case_only_rename_needs_no_review(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.git("mv", "agents/billing-cycle.yaml", "agents/Billing-Cycle.yaml")
    done = repo.ap("check", "--staged", "--format", "json")
    assert done.code == 0, done.text
    assert json.loads(done.out)["changes"][0]["kinds"] == ["moved"]


def test_detached_head(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.git("checkout", "-q", "--detach", "HEAD")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    done = repo.ap("check")
    assert done.code == 1 and "AP201" in done.out
    assert repo.ap("audit", "--format", "json").code == 0


def test_an_unborn_branch(repo: GitRepo) -> None:
    assert repo.ap("check").code == 0
    assert json.loads(repo.ap("audit", "--format", "json").out)["events"] == []
    assert repo.ap("status", "--format", "json").code == 0


def test_a_bare_repository(repo: GitRepo, keys: dict[str, Key], tmp_path: Path) -> None:
    guarded_repo(repo, keys)
    bare = tmp_path / "bare.git"
    run(["git", "clone", "-q", "--bare", str(repo.path), str(bare)], tmp_path, repo.env, check=True)
    done = run([AGENTPOLICY, "check"], bare, repo.env)
    assert done.code == 2
    assert "bare repository" in done.err
    done = run([AGENTPOLICY, "check", "--base", "HEAD~0"], bare, repo.env)
    assert done.code == 0, done.text
    assert run([AGENTPOLICY, "audit", "--format", "json"], bare, repo.env).code == 0


def test_a_linked_worktree(repo: GitRepo, keys: dict[str, Key], tmp_path: Path) -> None:
    guarded_repo(repo, keys)
    linked = tmp_path / "linked"
    repo.git("worktree", "add", "-q", "-b", "side", str(linked))
    (linked / "agents" / "billing-cycle.yaml").write_text(EXPANDED_BILLING)
    run(["git", "add", "-A"], linked, repo.env, check=True)
    done = run([AGENTPOLICY, "check", "--staged"], linked, repo.env)
    assert done.code == 1 and "AP201" in done.out
    assert repo.ap("check").code == 0  # the main work tree is untouched


def test_a_submodule_the_agent_globs_reach_into_fails_closed(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    guarded_repo(repo, keys)
    other = GitRepo(tmp_path / "other", repo.home)
    other.write("x.yaml", "not: an agent\n")
    other.commit("other")
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(other.path), "agents/vendored")
    done = repo.ap("check", "--staged")
    no_traceback(done.text)
    assert done.code == 2, done.text  # issue 13, attack 14: more in test_raw_paths.py
    assert "agents/vendored" in done.err and "submodule" in done.err


def test_a_sparse_checkout_does_not_look_like_deletions(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("docs/readme.md", "x\n")
    repo.commit("docs")
    repo.git("sparse-checkout", "set", "--no-cone", "/docs/")
    assert not (repo.path / "agents" / "billing-cycle.yaml").exists()
    done = repo.ap("check")
    assert done.code == 0, done.text


def test_non_utf8_commit_metadata_in_the_audit(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.git("add", "-A")
    env = dict(repo.env, GIT_AUTHOR_NAME="Zo\xeb".encode("latin-1").decode("latin-1"))
    subprocess.run(
        ["git", "-c", "i18n.commitEncoding=ISO-8859-1", "commit", "-q", "--no-verify", "-F", "-"],
        input="caf\xe9 change".encode("latin-1"),
        cwd=repo.path,
        env=env,
        check=True,
    )
    done = repo.ap("audit", "--format", "json")
    no_traceback(done.text)
    assert done.code == 0
    assert json.loads(done.out)["events"][1]["author"].startswith("Zo")


def test_an_index_with_conflicts_is_refused_clearly(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.git("checkout", "-q", "-b", "a")
    repo.write("agents/billing-cycle.yaml", BILLING.replace("1.4.0", "1.4.1"))
    repo.commit("a")
    repo.git("checkout", "-q", "main")
    repo.write("agents/billing-cycle.yaml", BILLING.replace("1.4.0", "1.4.2"))
    repo.commit("b")
    merge = run(["git", "merge", "a"], repo.path, repo.env)
    assert merge.code != 0
    done = repo.ap("check", "--staged")
    assert done.code == 2
    assert "merge conflict in agents/billing-cycle.yaml: resolve it" in done.err
    assert "resolve the conflicts" in done.err


def test_a_corrupted_object_is_a_clear_error(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    blob = repo.git("rev-parse", "HEAD:agents/billing-cycle.yaml").strip()
    path = repo.path / ".git" / "objects" / blob[:2] / blob[2:]
    path.chmod(0o644)
    path.write_bytes(b"this is not zlib")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    for args in (("check",), ("audit", "--format", "json"), ("status", "--format", "json")):
        done = repo.ap(*args)
        no_traceback(done.text)
        assert done.code == 2, (args, done.text)
        assert "git fsck" in done.err


def test_a_truncated_review_entry_is_reported(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    entry = next((repo.path / "reviews" / "billing-cycle" / "1.5.0").glob("*.yaml"))
    entry.write_bytes(entry.read_bytes()[:150])
    done = repo.ap("check")
    no_traceback(done.text)
    assert done.code == 1
    assert "AP204" in done.out


def test_a_duplicated_review_entry_counts_once(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write(
        "agents/billing-cycle.yaml",
        EXPANDED_BILLING.replace("approvals_required: 1", "approvals_required: 2"),
    )
    assert approve(repo, keys["rev"]).code == 0
    entry = next((repo.path / "reviews" / "billing-cycle" / "1.5.0").glob("*.yaml"))
    (entry.parent / ("copy-" + entry.name)).write_bytes(entry.read_bytes())
    done = repo.ap("check")
    assert done.code == 1
    assert "found 1 (rev@example.com)" in done.out


def test_a_review_entry_for_a_missing_agent_is_a_warning(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    entry = next((repo.path / "reviews" / "billing-cycle" / "1.4.0").glob("*.yaml"))
    ghost = repo.path / "reviews" / "ghost-agent" / "1.0.0" / entry.name
    ghost.parent.mkdir(parents=True)
    ghost.write_text(entry.read_text().replace("agent: billing-cycle", "agent: ghost-agent"))
    done = repo.ap("check")
    assert "AP207" in done.out and "ghost-agent" in done.out


def test_a_review_entry_with_a_future_timestamp_is_judged_by_its_signature(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    entry = next((repo.path / "reviews" / "billing-cycle" / "1.5.0").glob("*.yaml"))
    text = entry.read_text()
    import re

    entry.write_text(re.sub(r"timestamp: '\d{4}", "timestamp: '2999", text))
    done = repo.ap("check")
    assert done.code == 1
    assert "AP308" in done.out  # the timestamp is signed: changing it breaks the signature
