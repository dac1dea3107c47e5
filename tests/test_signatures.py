"""Attacks on signed review entries, each refused with its own message (real ssh-keygen keys)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import EXPANDED_BILLING, GitRepo, Key, approve, guarded_repo, run


def expand(repo: GitRepo) -> None:
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)


def new_entry(repo: GitRepo) -> Path:
    entries = sorted((repo.path / "reviews" / "billing-cycle" / "1.5.0").glob("*.yaml"))
    assert entries, "no entry was written"
    return entries[-1]


def findings(repo: GitRepo, *args: str) -> tuple[int, list[dict]]:
    done = repo.ap("check", "--format", "json", *args)
    assert done.code in (0, 1), done.text
    assert "Traceback" not in done.err
    return done.code, json.loads(done.out)["findings"]


def refused_with(repo: GitRepo, rule: str, fragment: str) -> dict:
    code, found = findings(repo)
    assert code == 1, found
    matching = [f for f in found if f["rule"] == rule]
    assert matching, found
    assert fragment in matching[0]["message"], matching[0]
    assert any(f["rule"] == "AP201" for f in found), "the change itself must stay unapproved"
    return matching[0]


def test_an_entry_signed_by_a_key_not_in_allowed_signers_is_refused(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    expand(repo)
    assert approve(repo, keys["mallory"]).code == 0
    refused_with(repo, "AP305", "is not in the allowed signers")


def test_a_signature_whose_principal_is_not_the_named_reviewer_is_refused(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    expand(repo)
    done = repo.ap(
        "approve", "billing-cycle", "--reviewer", "Rev <rev@example.com>", "--key", str(keys["rev2"].private)
    )
    assert done.code == 0
    assert "not listed for rev@example.com" in done.err
    refused_with(repo, "AP306", "is not allowed for rev@example.com, the reviewer named in the entry")


@pytest.mark.parametrize(
    ("field", "pattern", "replacement"),
    [
        ("timestamp", r"timestamp: '(\d{4})", r"timestamp: '1999"),
        ("reviewer name", r"name: Rev\n", "name: Rev Forged\n"),
        ("note", r"note: checked\n", "note: checked twice\n"),
        ("decision", r"decision: approve\n", "decision: reject\n"),
    ],
)
def test_editing_any_field_of_a_signed_entry_breaks_it(
    repo: GitRepo, keys: dict[str, Key], field: str, pattern: str, replacement: str
) -> None:
    guarded_repo(repo, keys)
    expand(repo)
    assert approve(repo, keys["rev"], "billing-cycle", "--note", "checked").code == 0
    entry = new_entry(repo)
    text, count = re.subn(pattern, replacement, entry.read_text())
    assert count == 1, field
    entry.write_text(text)
    refused_with(repo, "AP308", "does not match the entry's content")


def test_a_valid_entry_copied_for_another_version_does_not_count(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    expand(repo)
    old = next((repo.path / "reviews" / "billing-cycle" / "1.4.0").glob("*.yaml"))
    copy = repo.path / "reviews" / "billing-cycle" / "1.5.0" / old.name
    copy.parent.mkdir(parents=True)
    shutil.copy(old, copy)
    refused_with(repo, "AP206", "it is for version 1.4.0, but billing-cycle is now 1.5.0")
    # rewriting version and digest to the new content breaks the signature instead
    from agentpolicy.model.digest import agent_digest
    from agentpolicy.model.yamlload import load_yaml

    loaded = load_yaml("x", EXPANDED_BILLING.encode()).document
    assert loaded is not None
    text = copy.read_text().replace("version: 1.4.0", "version: 1.5.0")
    text = re.sub(r"digest: sha256:[0-9a-f]+", f"digest: {agent_digest(loaded.data)}", text)
    copy.write_text(text)
    refused_with(repo, "AP308", "does not match the entry's content")


def test_a_valid_entry_copied_for_another_agent_does_not_count(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write(
        "agents/billing-two.yaml", EXPANDED_BILLING.replace("name: billing-cycle", "name: billing-two")
    )
    old = next((repo.path / "reviews" / "billing-cycle" / "1.4.0").glob("*.yaml"))
    copy = repo.path / "reviews" / "billing-two" / "1.4.0" / old.name
    copy.parent.mkdir(parents=True)
    copy.write_text(old.read_text().replace("agent: billing-cycle", "agent: billing-two"))
    code, found = findings(repo)
    assert code == 1
    assert {"AP201"} <= {f["rule"] for f in found}
    assert any(f["rule"] in ("AP206", "AP308") for f in found), found


def test_a_signature_made_in_another_namespace_is_refused(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    expand(repo)
    assert approve(repo, keys["rev"]).code == 0
    entry = new_entry(repo)
    from agentpolicy.review.entries import load_review

    loaded, _ = load_review("e", entry.read_bytes())
    assert loaded is not None
    git_signature = subprocess.run(
        ["ssh-keygen", "-q", "-Y", "sign", "-n", "git", "-f", str(keys["rev"].private)],
        input=loaded.payload(),
        capture_output=True,
        check=True,
    ).stdout.decode()
    text = entry.read_text()
    start = text.index("signature: |")
    entry.write_text(
        text[:start] + "signature: |\n" + "".join(f"  {line}\n" for line in git_signature.splitlines())
    )
    refused_with(repo, "AP303", "namespace 'git'")


@pytest.mark.parametrize(
    ("window", "fragment"),
    [
        ('valid-before="20200101"', "expired on 2020-01-01"),
        ('valid-after="29990101"', "valid only from 2999-01-01"),
    ],
)
def test_a_key_outside_its_validity_window_is_refused(
    repo: GitRepo, keys: dict[str, Key], window: str, fragment: str
) -> None:
    guarded_repo(repo, keys)
    repo.write(
        ".agentpolicy/allowed_signers",
        keys["rev"].signer_line(f'namespaces="agentpolicy-review",{window}')
        + "\n"
        + keys["rev2"].signer_line()
        + "\n",
    )
    repo.commit("rev's key window", author="Rev2 <rev2@example.com>")  # landed trust change (--no-verify)
    expand(repo)
    assert approve(repo, keys["rev"]).code == 0
    refused_with(repo, "AP307", fragment)


def test_a_signer_added_in_the_same_change_cannot_approve_it(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    signers = repo.read(".agentpolicy/allowed_signers")
    repo.write(".agentpolicy/allowed_signers", signers + keys["mallory"].signer_line() + "\n")
    expand(repo)
    assert approve(repo, keys["mallory"]).code == 0
    finding = refused_with(repo, "AP305", "this same change adds that key to allowed signers")
    assert finding["file"].startswith("reviews/billing-cycle/1.5.0/")
    _, found = findings(repo)
    assert "AP220" in {f["rule"] for f in found}


def test_the_author_cannot_approve_with_their_own_valid_key(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    expand(repo)
    assert approve(repo, keys["dev"]).code == 0
    repo.stage()
    code, found = findings(repo, "--staged")
    assert code == 1
    assert "AP205" in {f["rule"] for f in found}


def test_two_entries_from_one_reviewer_count_once(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write(
        "agents/billing-cycle.yaml",
        EXPANDED_BILLING.replace("approvals_required: 1", "approvals_required: 2"),
    )
    assert approve(repo, keys["rev"]).code == 0
    assert approve(repo, keys["rev"], "billing-cycle", "--note", "again").code == 0
    code, found = findings(repo)
    assert code == 1
    assert "needs 2 approving review entries for this content; found 1" in found[0]["message"]


@pytest.mark.parametrize("damage", ["truncate", "garble", "drop-armor", "empty"])
def test_a_garbled_or_truncated_signature_is_a_clear_error(
    repo: GitRepo, keys: dict[str, Key], damage: str
) -> None:
    guarded_repo(repo, keys)
    expand(repo)
    assert approve(repo, keys["rev"]).code == 0
    entry = new_entry(repo)
    text = entry.read_text()
    head, _, block = text.partition("signature: |\n")
    lines = block.splitlines()
    if damage == "truncate":
        lines = lines[:2] + lines[-1:]
    elif damage == "garble":
        lines[2] = "  " + "!" * (len(lines[2]) - 2)
    elif damage == "drop-armor":
        lines = lines[1:-1]
    else:
        lines = ["  -----BEGIN SSH SIGNATURE-----", "  -----END SSH SIGNATURE-----"]
    entry.write_text(head + "signature: |\n" + "\n".join(lines) + "\n")
    refused_with(repo, "AP302", "signature of review entry is garbled")


def test_an_existing_entry_edited_later_is_refused(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    old = next((repo.path / "reviews" / "billing-cycle" / "1.4.0").glob("*.yaml"))
    old.write_text(old.read_text().replace("decision: approve", "decision: reject"))
    code, found = findings(repo)
    assert code == 1
    assert found[0]["rule"] == "AP210"


def test_a_revoked_key_is_refused(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys, config="revoked_signers: .agentpolicy/revoked\n")
    repo.write(".agentpolicy/revoked", keys["rev"].public_text + "\n")
    repo.commit("revoke rev's key", author="Rev2 <rev2@example.com>")
    expand(repo)
    assert approve(repo, keys["rev"]).code == 0
    refused_with(repo, "AP304", "has been revoked")


def test_an_unsigned_entry_is_refused_by_default(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    expand(repo)
    done = repo.ap("approve", "billing-cycle", "--reviewer", "Rev <rev@example.com>")
    assert done.code == 2
    assert "no signing key" in done.err
    assert "--key" in done.err


def test_unsigned_entries_pass_with_a_warning_when_signatures_are_off(repo: GitRepo) -> None:
    repo.write(".agentpolicy.yaml", "require_signatures: false\n")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    done = repo.ap("approve", "billing-cycle", "--reviewer", "Rev <rev@example.com>")
    assert done.code == 0, done.text
    assert "UNSIGNED" in done.out
    code, found = findings(repo)
    assert code == 0
    assert [f["rule"] for f in found] == ["AP301"]
    assert found[0]["severity"] == "warning"


def test_a_repo_without_allowed_signers_is_told_how_to_create_it(repo: GitRepo, keys: dict[str, Key]) -> None:
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    done = repo.ap("check")
    assert done.code == 1
    assert "AP300 no allowed-signers file at .agentpolicy/allowed_signers" in done.out
    assert "ssh-keygen" in done.out and "id_ed25519.pub" in done.out


def test_a_key_held_in_ssh_agent_signs(repo: GitRepo, keys: dict[str, Key], tmp_path: Path) -> None:
    guarded_repo(repo, keys)
    expand(repo)
    socket = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if socket.exists():
                break
            subprocess.run(["sleep", "0.05"], check=True)
        env = dict(repo.env, SSH_AUTH_SOCK=str(socket))
        run(["ssh-add", "-q", str(keys["rev"].private)], repo.path, env, check=True)
        public_only = tmp_path / "rev-in-agent.pub"
        shutil.copy(keys["rev"].public, public_only)  # no private key beside it
        done = repo.ap(
            "approve",
            "billing-cycle",
            "--reviewer",
            "Rev <rev@example.com>",
            "--key",
            str(public_only),
            env=env,
        )
        assert done.code == 0, done.text
    finally:
        agent.terminate()
        agent.wait()
    code, found = findings(repo)
    assert (code, found) == (0, [])


def test_gits_ssh_signing_key_is_used_by_default(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    expand(repo)
    repo.git("config", "gpg.format", "ssh")
    repo.git("config", "user.signingkey", str(keys["rev"].public))  # git's usual form: the .pub path
    repo.git("config", "user.name", "Rev")
    repo.git("config", "user.email", "rev@example.com")
    done = repo.ap("approve", "billing-cycle")
    assert done.code == 0, done.text
    assert "by Rev <rev@example.com>, signed" in done.out
    repo.commit("expand, with rev's approval", author="Dev Author <dev@example.com>")
    code, found = findings(repo, "--base", "HEAD~1")
    assert (code, found) == (0, [])


def test_a_trust_root_change_needs_an_existing_signer(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    signers = repo.read(".agentpolicy/allowed_signers")
    repo.write(".agentpolicy/allowed_signers", signers + keys["mallory"].signer_line() + "\n")
    repo.stage()
    code, found = findings(repo, "--staged")
    assert code == 1
    assert [f["rule"] for f in found] == ["AP220"]
    assert "trust root changed (allowed signers)" in found[0]["message"]
    assert approve(repo, keys["mallory"], "--trust-root").code == 0  # the new signer vouches for itself
    repo.stage()
    code, found = findings(repo, "--staged")
    assert code == 1
    assert {f["rule"] for f in found} == {"AP220", "AP305"}
    shutil.rmtree(repo.path / "reviews" / "@trust-root")
    done = repo.ap(
        "approve", "--trust-root", "--reviewer", "Rev <rev@example.com>", "--key", str(keys["rev"].private)
    )
    assert done.code == 0, done.text
    repo.stage()
    code, found = findings(repo, "--staged")
    assert (code, found) == (0, [])


def test_a_config_change_is_a_trust_root_change_but_comments_are_not(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys, config="require_signatures: true\n")
    repo.write(".agentpolicy.yaml", "# signatures are required\nrequire_signatures: true  # always\n")
    code, found = findings(repo)
    assert (code, found) == (0, [])
    repo.write(".agentpolicy.yaml", "require_signatures: false\n")
    code, found = findings(repo)
    assert code == 1
    assert found[0]["rule"] == "AP220"
    assert "trust root changed (.agentpolicy.yaml)" in found[0]["message"]
