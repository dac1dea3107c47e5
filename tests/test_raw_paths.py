"""File names are raw bytes (issue 13, attacks 2, 4 and 14): keys are lossless, escaping is for output,
agent and review files with control characters in their names are errors, and submodules fail closed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import (
    BILLING,
    EXPANDED_BILLING,
    GitRepo,
    Key,
    agent_yaml,
    approve,
    guarded_repo,
)

# C0, DEL, C1 (U+0085 as UTF-8), bytes that are not UTF-8, a newline and a terminal escape.
HOSTILE_NAMES = [
    b"c0\x01.yaml",
    b"del\x7f.yaml",
    b"c1\xc2\x85.yaml",
    b"bad\xff.yaml",
    b"new\nline.yaml",
    b"esc\x1b[31m.yaml",
]
CHECK_FORMATS = ("text", "json", "github", "sarif", "junit", "gitlab")


def write_raw(repo: GitRepo, relative: bytes, text: str) -> None:
    """Write a file whose name is the exact bytes given (GitRepo.write takes text)."""
    target = os.path.join(os.fsencode(repo.path), relative)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as handle:
        handle.write(text.encode("utf-8"))


def no_traceback(text: str) -> None:
    assert "Traceback" not in text
    assert "internal error" not in text


def report(repo: GitRepo, *args: str) -> tuple[int, dict]:
    done = repo.ap("check", "--format", "json", *args)
    no_traceback(done.text)
    assert done.code in (0, 1), done.text
    return done.code, json.loads(done.out)


def rules(found: dict) -> list[str]:
    return sorted({f["rule"] for f in found["findings"] if f["severity"] == "error"})


def signers(repo: GitRepo, keys: dict[str, Key], *names: str) -> None:
    repo.write(".agentpolicy/allowed_signers", "".join(keys[name].signer_line() + "\n" for name in names))


def approved_under(repo: GitRepo, key: Key, raw: bytes, text: str) -> None:
    """Approve ``text`` (approve refuses an agent whose file name is an error), then give it the raw name:
    an approval binds the content, not the file name."""
    target = os.path.join(os.fsencode(repo.path), raw)
    if os.path.exists(target):
        os.remove(target)
    repo.write("agents/billing-cycle.yaml", text)
    assert approve(repo, key).code == 0
    os.rename(repo.path / "agents" / "billing-cycle.yaml", os.path.join(os.fsencode(repo.path), raw))


def in_mode(repo: GitRepo, mode: str) -> tuple[int, dict]:
    """Check the pending change (written, not yet staged) in one of the git modes."""
    if mode == "worktree":
        return report(repo)
    if mode == "staged":
        repo.stage()
        return report(repo, "--staged")
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("change")
    return report(repo, "--base", "main")


# -- attack 2: two paths, one display name ------------------------------------------------------


@pytest.mark.parametrize("mode", ["worktree", "staged", "range"])
@pytest.mark.parametrize(
    ("raw", "literal"),
    [
        (b"agents/helper\x01.yaml", b"agents/helper\\x01.yaml"),
        (b"agents/helper\xff.yaml", b"agents/helper\\xff.yaml"),
    ],
    ids=["control", "non-utf8"],
)
def test_attack_two_paths_one_display_name_both_agents_are_seen(
    repo: GitRepo, keys: dict[str, Key], mode: str, raw: bytes, literal: bytes
) -> None:
    guarded_repo(repo, keys)
    write_raw(repo, raw, agent_yaml(name="helper-raw"))
    write_raw(repo, literal, agent_yaml(name="helper-literal"))
    code, found = in_mode(repo, mode)
    assert code == 1
    created = {change["agent"] for change in found["changes"] if "created" in change["kinds"]}
    assert created == {"helper-raw", "helper-literal"}
    assert found["summary"]["files_checked"] == 3


def test_attack_same_bytes_give_the_same_key_in_every_snapshot_and_in_changed_paths(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentpolicy.git.repo import Repo

    names = [*HOSTILE_NAMES, b"helper\\x01.yaml", b"caf\xc3\xa9.yaml", b"plain.yaml"]
    for number, name in enumerate(names):
        write_raw(repo, b"agents/" + name, f"n: {number}\n")
    repo.commit("many names")
    monkeypatch.chdir(repo.path)
    monkeypatch.setenv("HOME", str(repo.home))
    git = Repo(str(repo.path))
    head = git.head_snapshot()
    snapshots = {
        "tree": head,
        "index on HEAD": git.index_snapshot(head),
        "working tree": git.worktree_snapshot(),
    }
    monkeypatch.setenv("GIT_INDEX_FILE", str(repo.path / ".git" / "index"))
    snapshots["index alone"] = git.index_snapshot()
    expected = {("agents/" + os.fsdecode(name)).encode("utf-8", "surrogateescape") for name in names}
    changed = git.changed_paths(git.repo[git.resolve("HEAD")])
    assert {path.encode("utf-8", "surrogateescape") for path in changed} == expected
    for label, snapshot in snapshots.items():
        files = snapshot.files(["agents/**/*.yaml"])
        assert set(files) == changed, label
        for number, name in enumerate(names):
            assert (
                snapshot.read("agents/" + name.decode("utf-8", "surrogateescape"))
                == f"n: {number}\n".encode()
            ), (
                label,
                name,
            )


def test_attack_sparse_checkout_keeps_raw_names_outside_the_cone(repo: GitRepo, keys: dict[str, Key]) -> None:
    signers(repo, keys, "rev")
    approved_under(repo, keys["rev"], b"agents/billing\xff.yaml", BILLING)
    repo.write("docs/readme.md", "x\n")
    repo.commit("billing agent")
    repo.git("sparse-checkout", "set", "--no-cone", "/docs/")
    assert not os.path.lexists(os.path.join(os.fsencode(repo.path), b"agents/billing\xff.yaml"))
    code, found = report(repo)
    assert code == 1
    assert found["changes"] == []  # not a deletion and not a re-creation
    assert rules(found) == ["AP003"]


# -- item 2: control characters and non-UTF-8 bytes in agent and review file names ---------------


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("mode", ["worktree", "staged", "range", "paths"])
def test_attack_agent_file_name_with_control_or_non_utf8_bytes_is_an_error(
    repo: GitRepo, keys: dict[str, Key], name: bytes, mode: str
) -> None:
    guarded_repo(repo, keys)
    write_raw(repo, b"agents/" + name, agent_yaml())
    if mode == "paths":
        done = repo.ap("check", "--format", "json", "agents")
        no_traceback(done.text)
        code, found = done.code, json.loads(done.out)
    else:
        code, found = in_mode(repo, mode)
    assert code == 1
    named = [f for f in found["findings"] if f["rule"] == "AP003"]
    assert len(named) == 1, found["findings"]
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:  # JSON must be valid UTF-8: an undecodable byte is shown escaped
        assert named[0]["file"].endswith(name.decode("utf-8", "backslashreplace")), named[0]["file"]
    else:  # the raw name (JSON-escaped), never its display form
        assert os.fsencode(named[0]["file"]).endswith(name), named[0]["file"]
    assert "rename" in named[0]["hint"]
    if mode != "paths":
        assert "AP201" in rules(found)  # and the new agent still needs its review
    text = repo.ap(
        "check", *(("agents",) if mode == "paths" else ("--base", "main") if mode == "range" else ())
    )
    no_traceback(text.text)
    line = next(row for row in text.out.splitlines() if "AP003" in row)
    assert line.isprintable()
    assert "\\" in line  # shown escaped


def test_attack_bad_name_agent_does_not_drop_out_of_the_gate(repo: GitRepo, keys: dict[str, Key]) -> None:
    signers(repo, keys, "rev", "rev2", "dev")
    approved_under(repo, keys["rev"], b"agents/billing\x01.yaml", BILLING)
    repo.commit("billing agent")
    write_raw(repo, b"agents/billing\x01.yaml", EXPANDED_BILLING)
    for mode in ("worktree", "staged", "range"):
        code, found = in_mode(repo, mode)
        assert code == 1
        assert rules(found) == ["AP003", "AP201"], mode
        assert [change["agent"] for change in found["changes"]] == ["billing-cycle"]


@pytest.mark.parametrize("fmt", CHECK_FORMATS)
def test_every_check_format_prints_raw_file_names_without_crashing(
    repo: GitRepo, keys: dict[str, Key], fmt: str
) -> None:
    guarded_repo(repo, keys)
    for name in HOSTILE_NAMES:
        write_raw(repo, b"agents/" + name, agent_yaml(name="x" + name.hex()[:8]))
    done = repo.ap("check", "--format", fmt)
    no_traceback(done.text)
    assert done.code == 1
    out = repo.path / "out"
    done = repo.ap("check", "-o", f"{fmt}={out}")
    no_traceback(done.text)
    assert done.code == 1 and out.exists()


def test_status_and_audit_print_raw_file_names_without_crashing(repo: GitRepo, keys: dict[str, Key]) -> None:
    signers(repo, keys, "rev")
    for name in HOSTILE_NAMES:
        write_raw(repo, b"agents/" + name, agent_yaml(name="x" + name.hex()[:8]))
    repo.commit("hostile names")
    for args in (
        ("status", "--format", "json"),
        ("status", "--format", "table"),
        ("status", "--format", "markdown"),
        ("audit", "--format", "json"),
        ("audit", "--format", "table"),
        ("audit", "--format", "csv"),
        ("audit", "--format", "html"),
        ("audit", "--format", "markdown"),
    ):
        done = repo.ap(*args)
        no_traceback(done.text)
        assert done.code in (0, 1), (args, done.text)


def test_attack_review_entry_with_a_control_character_in_its_name_is_refused(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    entry = next((repo.path / "reviews" / "billing-cycle" / "1.5.0").glob("*.yaml"))
    entry.rename(entry.with_name("entry\x1b[2K.yaml"))
    for mode in ("worktree", "staged", "range"):
        code, found = in_mode(repo, mode)
        assert code == 1
        bad = [f for f in found["findings"] if f["rule"] == "AP204"]
        assert len(bad) == 1 and "\x1b" in bad[0]["file"], (mode, found["findings"])
        assert "rename" in bad[0]["hint"]


def test_attack_newline_in_a_file_name_does_not_hide_it_from_a_double_star_glob(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys, config="agents: ['agents/**']\n")
    write_raw(repo, b"agents/sneaky\n.yaml", agent_yaml(name="sneaky"))
    code, found = report(repo)
    assert code == 1
    assert "sneaky" in {change["agent"] for change in found["changes"]}


# -- attack 4: separation of duties on escaped paths ----------------------------------------------


def test_attack_self_approval_through_a_control_character_in_the_file_name_is_refused(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    signers(repo, keys, "rev", "rev2", "dev")
    approved_under(repo, keys["rev"], b"agents/billing\x01.yaml", BILLING)
    repo.commit("billing agent", author="Rev <rev@example.com>")
    repo.git("checkout", "-q", "-b", "feature")
    approved_under(repo, keys["dev"], b"agents/billing\x01.yaml", EXPANDED_BILLING)
    repo.commit("expand and approve it myself")  # as dev@example.com
    code, found = report(repo, "--base", "main")
    assert code == 1
    assert "AP205" in rules(found)


# -- attack 14: agents in submodules -------------------------------------------------------------


def make_submodule_source(tmp_path: Path, home: Path) -> GitRepo:
    other = GitRepo(tmp_path / "vendored-source", home)
    other.write("billing-cycle.yaml", EXPANDED_BILLING)
    other.write("helper.yaml", agent_yaml(name="helper"))
    other.commit("vendored agents")
    return other


def add_submodule(repo: GitRepo, source: GitRepo, where: str) -> None:
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(source.path), where)


def assert_submodule_refused(done_text: str, code: int, where: str) -> None:
    no_traceback(done_text)
    assert code == 2, done_text
    assert where in done_text and "submodule" in done_text
    assert "move the agent files into this repository" in done_text


@pytest.mark.parametrize("where", ["agents/vendored", "agents"])
def test_attack_agents_in_a_submodule_fail_closed_in_every_mode(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path, where: str
) -> None:
    signers(repo, keys, "rev")
    repo.write("README.md", "x\n")
    repo.commit("start")
    add_submodule(repo, make_submodule_source(tmp_path, repo.home), where)
    done = repo.ap("check")
    assert_submodule_refused(done.text, done.code, where)
    done = repo.ap("check", "--staged")
    assert_submodule_refused(done.text, done.code, where)
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("vendor agents")
    done = repo.ap("check", "--base", "main")
    assert_submodule_refused(done.text, done.code, where)
    done = repo.ap("status", "--format", "json")
    assert_submodule_refused(done.text, done.code, where)
    done = repo.ap("audit", "--format", "json")
    no_traceback(done.text)
    assert done.code == 2 and where in done.err and "submodule" in done.err


def test_attack_a_gitlink_named_like_an_agent_file_fails_closed(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    head = repo.git("rev-parse", "HEAD").strip()
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{head},agents/helper.yaml")
    done = repo.ap("check", "--staged")
    assert_submodule_refused(done.text, done.code, "agents/helper.yaml")
    repo.git("checkout", "-q", "-b", "feature")
    repo.git("commit", "-q", "--no-verify", "-m", "gitlink")
    done = repo.ap("check", "--base", "main")
    assert_submodule_refused(done.text, done.code, "agents/helper.yaml")
    done = repo.ap("audit", "--format", "json")
    assert done.code == 2 and "agents/helper.yaml" in done.err


def test_a_submodule_the_agent_globs_cannot_match_is_fine(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    guarded_repo(repo, keys, config="agents: ['agents/*.yaml']\n")
    source = make_submodule_source(tmp_path, repo.home)
    add_submodule(repo, source, "vendor/lib")
    add_submodule(repo, source, "agents/vendored")  # `agents/*.yaml` matches nothing inside it
    for args in (("check",), ("check", "--staged")):
        done = repo.ap(*args)
        no_traceback(done.text)
        assert done.code == 0, (args, done.text)
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("vendor a library")
    done = repo.ap("check", "--base", "main")
    assert done.code == 0, done.text


def test_attack_symlinked_agents_folder_reads_alike_in_the_working_tree_and_the_index(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    (repo.path / "agents").rename(repo.path / "elsewhere")
    os.symlink("elsewhere", repo.path / "agents")  # git stores a link; the agent is gone from agents/
    code, found = report(repo)
    assert code == 1 and found["changes"][0]["kinds"] == ["deleted"]
    repo.stage()
    code, found = report(repo, "--staged")
    assert code == 1 and found["changes"][0]["kinds"] == ["deleted"]
