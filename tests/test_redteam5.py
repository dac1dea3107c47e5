"""Red team, round five: attacks on the newest fixes (authorship of content taken from an outside
parent, `$` in schema patterns, comment-only allowed-signers files, where `approve` writes).
Each test asserts the SAFE or CORRECT behaviour and fails on the current code.

Every test drives the real `agentpolicy` on a real repository with real ssh-keygen keys.
"""

from __future__ import annotations

import json
import time

from tests.helpers import BILLING, EXPANDED_BILLING, GitRepo, Key, Run, approve
from tests.helpers import check_findings as check
from tests.helpers import rule_ids as rules


def approve_trust_root(repo: GitRepo, key: Key) -> Run:
    name = key.email.split("@")[0].capitalize()
    return repo.ap(
        "approve", "--trust-root", "--reviewer", f"{name} <{key.email}>", "--key", str(key.private)
    )


def _signers_main(repo: GitRepo, keys: dict[str, Key], signers: bytes) -> None:
    repo.write(".agentpolicy/allowed_signers", signers)
    repo.write("agents/billing-cycle.yaml", BILLING)
    done = approve(repo, keys["rev"])
    assert done.code == 0, done.text
    repo.commit("billing agent, rev is the signer", author="Anna Nowak <anna.nowak@example.com>")
    time.sleep(1.1)


def test_attack_signers_line_hidden_as_comment_by_unicode_whitespace_reopens_bootstrap(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """`with_signers` strips with Python's `str.strip()` (form feed, vertical tab, U+00A0, U+001C..)
    and splits with `splitlines()`; ssh-keygen (and sshverify) skip only spaces and tabs and split
    on `\\n`. A line `\\f#ops,rev@example.com ssh-ed25519 ...` is a real signer for ssh-keygen (its
    principals are `\\f#ops` and `rev@example.com`) but a comment for `with_signers`: the
    repository counts as bootstrapping, and any pull request may replace the signers with its own
    key and approve itself (the proposed side's signers are trusted)."""
    line = keys["rev"].signer_line()
    _signers_main(repo, keys, b"\x0c#ops," + line.encode() + b"\n")
    # rev really is a signer: ssh-keygen verifies rev's approval against main's file.
    repo.git("checkout", "-q", "-b", "takeover")
    repo.write(".agentpolicy/allowed_signers", keys["mallory"].signer_line() + "\n")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve_trust_root(repo, keys["mallory"]).code == 0
    assert approve(repo, keys["mallory"]).code == 0
    repo.commit("take over the trust root", author="Dev Author <dev@example.com>")
    code, found = check(repo, "--base", "main")
    assert code == 1, found
    done = repo.ap("audit", "--strict", "--format", "json")
    assert done.code == 1, done.text


def merge(repo: GitRepo, other: str, author: str) -> str:
    repo.git("merge", "-q", "--no-ff", "--no-edit", other, env=repo.as_author(author))
    return repo.git("rev-parse", "HEAD").strip()


def test_reviewer_who_clicked_update_branch_once_can_still_approve(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """Everyday GitHub flow. Dev opens a pull request (a README change); the reviewer clicks
    "Update branch" (a merge of main authored by the reviewer). Main then ships an approved
    billing change; dev merges main again, then changes billing, and the reviewer approves.
    The reviewer wrote nothing of billing: their merge took billing from main as main then was.
    But that main commit is now outside the range and differs from the new merge base, so
    `imported_paths` makes the reviewer's old merge an author of billing, and the approval is
    refused as self-approval (AP205)."""
    repo.write(".agentpolicy/allowed_signers", "".join(keys[n].signer_line() + "\n" for n in ("rev", "rev2")))
    repo.write("agents/billing-cycle.yaml", BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("billing agent", author="Anna Nowak <anna.nowak@example.com>")
    time.sleep(1.1)
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("README.md", "docs\n")
    repo.commit("docs", author="Dev Author <dev@example.com>")
    repo.git("checkout", "-q", "main")
    repo.write("NOTES.md", "notes\n")
    repo.commit("notes", author="Anna Nowak <anna.nowak@example.com>")
    repo.git("checkout", "-q", "feature")
    merge(repo, "main", "Rev <rev@example.com>")  # GitHub's "Update branch", clicked by the reviewer
    repo.git("checkout", "-q", "main")
    repo.write("agents/billing-cycle.yaml", BILLING.replace("version: 1.4.0 ", "version: 1.4.1 "))
    assert approve(repo, keys["rev2"]).code == 0
    repo.commit("billing 1.4.1, approved", author="Anna Nowak <anna.nowak@example.com>")
    time.sleep(1.1)
    repo.git("checkout", "-q", "feature")
    merge(repo, "main", "Dev Author <dev@example.com>")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.commit("expand billing", author="Dev Author <dev@example.com>")
    done = approve(repo, keys["rev"])
    assert done.code == 0, done.text
    repo.commit("rev's approval", author="Dev Author <dev@example.com>")
    code, found = check(repo, "--base", "main")
    assert code == 0, found
    assert "AP205" not in rules(found)


SHELL_SAFE_ACTIONS = """\
id: ACME201
severity: error
message: "action names may hold lowercase letters, digits, '-' and '$' only"
hint: "rename the action"
require:
  properties:
    autonomy:
      properties:
        autonomous:
          items:
            properties:
              action: {pattern: "^[a-z0-9$-]+$"}
"""


def test_a_dollar_inside_a_character_class_is_a_literal_not_a_crash(repo: GitRepo) -> None:
    """`strict_validator` rewrites every unescaped `$` to `\\Z`, also inside `[...]`, where `\\Z` is
    no valid escape: `^[a-z0-9$-]+$` (a valid ECMA and Python pattern, accepted by the pack check
    and worked fine before round four) now raises `re.error` whenever a value reaches it. The pack
    rule must judge (billing's actions all match: no finding), never crash."""
    pack = repo.path / "policies/acme/rules"
    pack.mkdir(parents=True)
    (pack / "ACME201.yaml").write_text(SHELL_SAFE_ACTIONS)
    (repo.path / "policies/acme/pack.yaml").write_text("name: acme\n")
    repo.write(".agentpolicy.yaml", "policy: [policies/acme]\n")
    repo.write("agents/billing-cycle.yaml", BILLING)
    done = repo.ap("check", "--format", "json", "agents/billing-cycle.yaml")
    assert done.code == 0, done.text
    assert "ACME201" not in rules(json.loads(done.out)["findings"])


def test_a_comment_only_signers_file_saved_with_a_bom_is_still_bootstrapping(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """`init`'s comment-only allowed-signers file, saved once by an editor that writes a UTF-8 BOM
    (Notepad, some IDEs on Windows). ssh-keygen finds no signer in it (the BOM makes the first line
    an unreadable signer line), but `with_signers` does not strip U+FEFF, so the repository is no
    longer "bootstrapping" and has no signer either: the first reviewer can never be added."""
    repo.write("README.md", "x\n")
    repo.commit("start")
    assert repo.ap("init").code == 0
    signers = repo.path / ".agentpolicy/allowed_signers"
    signers.write_bytes(b"\xef\xbb\xbf" + signers.read_bytes())
    repo.stage()
    repo.commit("adopt agentpolicy (init's scaffold, saved in an editor)")
    with signers.open("a") as handle:
        handle.write(keys["rev"].signer_line() + "\n")
    done = approve_trust_root(repo, keys["rev"])
    assert done.code == 0, done.text
    repo.stage()
    code, found = check(repo, "--staged")
    assert code == 0, found
