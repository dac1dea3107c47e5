"""Red-team attacks on the one judge (after issue 13): each test asserts the SAFE behaviour.

Kept here are only the attacks that still get through (the test fails on the
current code); what was tried and held is listed in the report, not here.
Every test drives the real `agentpolicy` on a real repository with real
ssh-keygen keys; the audit side pushes straight to main past the hook.
"""

from __future__ import annotations

import json
import shutil

from tests.helpers import BILLING, EXPANDED_BILLING, GitRepo, Key, approve, guarded_repo
from tests.helpers import check_findings as check
from tests.helpers import rule_ids as rules
from tests.helpers import strict_audit as strict
from tests.helpers import write_signers as signers


def audit(repo: GitRepo) -> dict:
    done = repo.ap("audit", "--format", "json")
    assert done.code == 0, done.text
    return json.loads(done.out)


def _expanded_then_narrowed(repo: GitRepo, keys: dict[str, Key]) -> tuple[str, bytes]:
    """billing 1.4.0 (approved), expanded to 1.5.0 (approved), narrowed back (approved again).

    Returns the path and bytes of the old, consumed approval of the expansion."""
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("expand, approved")
    entry = next((repo.path / "reviews" / "billing-cycle" / "1.5.0").glob("*.yaml"))
    path, data = str(entry.relative_to(repo.path)), entry.read_bytes()
    repo.write("agents/billing-cycle.yaml", BILLING)  # an incident: back to the narrow boundary
    assert approve(repo, keys["rev2"]).code == 0
    repo.commit("narrow back after an incident, approved")
    return path, data


def test_attack_deleting_old_entries_first_is_itself_an_unapproved_event_in_audit(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """Commit 1 (past the hook) deletes the agent's review entries; commit 2 re-expands the agent and
    re-adds the old, consumed approval. The check refuses commit 1 (AP210); the audit reports it as
    an event that is never approved, so `audit --strict` fails on the history. (Commit 2 alone is
    judged with the before side as it is, like the check: see docs/security.md, "Not defended".)"""
    path, data = _expanded_then_narrowed(repo, keys)
    shutil.rmtree(repo.path / "reviews" / "billing-cycle")
    code, found = check(repo)
    assert code == 1 and "AP210" in rules(found), found
    deletion = repo.commit("tidy up old reviews", author="Eve Sneaky <eve@example.com>")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.write(path, data)
    repo.commit("expand again", author="Eve Sneaky <eve@example.com>")
    lost = [e for e in audit(repo)["events"] if e["commit"] == deletion]
    assert lost and {e["event"] for e in lost} == {"review-entry-deleted"}, lost
    assert not any(e["approved"] for e in lost)
    assert strict(repo) == 1


def test_attack_branch_forked_before_signers_existed_bootstraps_its_own_trust_root(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """Main adopted signatures after the fork: the branch's merge base has no signers file, so the
    branch's own signers file (with the attacker's key) is trusted, and the tip is never asked."""
    repo.write("agents/billing-cycle.yaml", BILLING)
    repo.commit("billing agent, before signatures were adopted")
    fork = repo.git("rev-parse", "HEAD").strip()
    # main keeps its signers elsewhere, so the branch's own file merges without a conflict
    repo.write(".agentpolicy.yaml", "allowed_signers: security/allowed_signers\n")
    lines = (keys["rev"].signer_line(), keys["rev2"].signer_line())
    repo.write("security/allowed_signers", "".join(line + "\n" for line in lines))
    repo.commit("adopt signed reviews", author="Sec Team <sec@example.com>")
    repo.git("checkout", "-q", "-b", "feature", fork)
    signers(repo, keys["mallory"].signer_line())
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["mallory"]).code == 0
    repo.commit("expand billing")
    code, found = check(repo, "--base", "main", "--head", "feature")
    assert code == 1 and {"AP201"} & rules(found), found
    repo.git("merge", "-q", "--no-edit", "main")  # and it merges cleanly


PACK_OF_TWO = "name: acme\napprovals:\n  - when: true\n    approvals_required: 2\n"


def _repo_with_pack(repo: GitRepo, keys: dict[str, Key]) -> None:
    repo.write(".agentpolicy.yaml", 'policy: ["acme"]\n')
    repo.write("acme/pack.yaml", PACK_OF_TWO)
    guarded_repo(repo, keys)  # signers: rev, rev2 and dev (a developer who also reviews)


def test_attack_signer_lowers_a_pack_policy_and_approves_it_themselves(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """Separation of duties for a trust-root change looks only at the config and signer files'
    authors: dev edits only the pack (two approvals -> one) and signs the trust-root approval."""
    _repo_with_pack(repo, keys)
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("acme/pack.yaml", PACK_OF_TWO.replace("approvals_required: 2", "approvals_required: 1"))
    done = repo.ap(
        "approve", "--trust-root", "--reviewer", "Dev <dev@example.com>", "--key", str(keys["dev"].private)
    )
    assert done.code == 0, done.text
    repo.commit("one approval is enough")  # authored and committed by dev@example.com
    code, found = check(repo, "--base", "main", "--head", "feature")
    assert code == 1 and "AP205" in rules(found), found


def test_attack_signer_lowers_a_pack_policy_and_approves_it_themselves_in_audit(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    _repo_with_pack(repo, keys)
    repo.write("acme/pack.yaml", PACK_OF_TWO.replace("approvals_required: 2", "approvals_required: 1"))
    done = repo.ap(
        "approve", "--trust-root", "--reviewer", "Dev <dev@example.com>", "--key", str(keys["dev"].private)
    )
    assert done.code == 0, done.text
    repo.commit("one approval is enough")
    events = [e for e in audit(repo)["events"] if e["agent"] == "@trust-root"]
    assert events and events[-1]["approved"] is False, events
    assert strict(repo) == 1


def test_attack_unreadable_config_hides_a_trust_root_change_from_the_audit(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """Past the hook: commit 1 breaks `.agentpolicy.yaml` and adds mallory to the signers; commit 2
    repairs the config. Neither is a trust-root event (the digest of an unreadable side cannot be
    taken, so there is no subject), and mallory's approval of an expansion then counts."""
    guarded_repo(repo, keys, "rev", "rev2")
    repo.write(".agentpolicy.yaml", "require_signatures: perhaps\n")
    signers(repo, keys["rev"].signer_line(), keys["rev2"].signer_line(), keys["mallory"].signer_line())
    repo.commit("oops", author="Eve Sneaky <eve@example.com>")
    (repo.path / ".agentpolicy.yaml").unlink()
    repo.commit("fix the config", author="Eve Sneaky <eve@example.com>")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["mallory"]).code == 0
    repo.commit("expand billing", author="Eve Sneaky <eve@example.com>")
    assert strict(repo) == 1, audit(repo)["events"]


def test_attack_unsigned_future_dated_entry_freezes_every_later_approval(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """The approval floor is the latest *claimed* time among the entries on the before side,
    valid or not: one unsigned entry dated 2099, pushed past the hook, makes every later real
    approval of the agent 'consumed' until 2099 (a denial of service on its governance)."""
    guarded_repo(repo, keys)
    original = next((repo.path / "reviews" / "billing-cycle" / "1.4.0").glob("*.yaml"))
    text = original.read_text()
    stamp = text.split("timestamp: ")[1].split("\n")[0]
    forged = text.replace(stamp, "'2099-01-01T00:00:00Z'").split("signature:")[0]  # unsigned
    repo.write("reviews/billing-cycle/1.4.0/20990101T000000Z-nobody.yaml", forged)
    repo.commit("junk entry", author="Eve Sneaky <eve@example.com>")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("expand billing, approved by rev")
    code, found = check(repo, "--base", "main", "--head", "feature")
    assert code == 0, found


def test_attack_branch_forked_before_the_rules_were_tightened_is_judged_by_the_old_rules(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """Attack 5 re-checks keys at the target's tip, but not the configuration: main now asks two
    approvals for an autonomy expansion, and a branch forked before that passes with one."""
    guarded_repo(repo, keys)
    fork = repo.git("rev-parse", "HEAD").strip()
    repo.write(".agentpolicy.yaml", "autonomy_expansion_approvals: 2\n")
    done = repo.ap(
        "approve", "--trust-root", "--reviewer", "Rev <rev@example.com>", "--key", str(keys["rev"].private)
    )
    assert done.code == 0, done.text
    repo.commit("expansions need two reviewers", author="Sec Team <sec@example.com>")
    assert check(repo, "--base", "HEAD~1", "--head", "HEAD")[0] == 0
    repo.git("checkout", "-q", "-b", "feature", fork)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("expand billing, one approval")
    code, found = check(repo, "--base", "main", "--head", "feature")
    assert code == 1 and "AP201" in rules(found), found


def test_attack_config_path_as_a_folder_crashes_audit_and_status(repo: GitRepo, keys: dict[str, Key]) -> None:
    """A folder named `.agentpolicy.yaml` (the check reads it as no configuration and passes) makes
    every later `audit` and `status` end in an internal error: the compliance job is dead."""
    guarded_repo(repo, keys)
    repo.write(".agentpolicy.yaml/readme.txt", "not a file\n")
    repo.commit("a folder", author="Eve Sneaky <eve@example.com>")
    for command in (["audit", "--strict"], ["status"]):
        done = repo.ap(*command)
        assert done.code in (0, 1, 2) and "internal error" not in done.text, (command, done.text)


def test_attack_entry_without_a_yaml_suffix_counts_in_audit_but_not_in_check(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """The check reads only `*.yaml`/`*.yml` entries; the audit reads every file under the reviews
    folder. An entry saved as `.txt` makes them disagree about one change (and about the floor)."""
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    entry = next((repo.path / "reviews" / "billing-cycle" / "1.5.0").glob("*.yaml"))
    entry.rename(entry.with_suffix(".txt"))
    code, found = check(repo)
    repo.commit("expand billing", author="Eve Sneaky <eve@example.com>")
    audited = 1 if audit(repo)["events"][-1]["approved"] is False else 0
    assert (code, strict(repo)) in ((0, 0), (1, 1)), (code, found)
    assert audited == code


def test_attack_commit_dated_before_a_key_expired_on_an_idle_main(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """The clamp only stops dates going back past the parent: when main's last commit predates a
    key's expiry, a commit pushed today but dated just after it revives the expired key in the
    audit (the check, judging at the current time, refuses the same change)."""
    expired = keys["rev2"].signer_line('namespaces="agentpolicy-review",valid-before="20200101"')
    signers(repo, keys["rev"].signer_line(), expired)
    repo.write("agents/billing-cycle.yaml", BILLING)
    assert approve(repo, keys["rev"]).code == 0
    old = "2019-06-01T12:00:00Z"
    env = dict(repo.env, GIT_AUTHOR_DATE=old, GIT_COMMITTER_DATE=old)
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-verify", "-m", "billing agent (main idle since 2019)", env=env)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev2"]).code == 0
    assert check(repo)[0] == 1  # at the current time the key has expired
    later = "2019-12-15T12:00:00Z"
    env = dict(repo.env, GIT_AUTHOR_DATE=later, GIT_COMMITTER_DATE=later)
    env.update(GIT_AUTHOR_EMAIL="eve@example.com", GIT_COMMITTER_EMAIL="eve@example.com")
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-verify", "-m", "pushed today, dated before the expiry", env=env)
    assert strict(repo) == 1


def test_attack_stale_branch_passes_but_its_merge_lands_content_nobody_approved(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """The check judges merge-base -> head, but what lands is the merge with main's newer content:
    main narrowed billing after the fork; the branch changes the owner (approved for the branch's
    content). The clean merge holds a digest nobody approved, which the audit then flags."""
    guarded_repo(repo, keys)
    fork = repo.git("rev-parse", "HEAD").strip()
    narrowed = BILLING.replace("version: 1.4.0 ", "version: 1.5.0 ").replace(
        "    - action: send-notifications\n", ""
    )
    repo.write("agents/billing-cycle.yaml", narrowed)
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("narrow billing after an incident", author="Sec Team <sec@example.com>")
    repo.git("checkout", "-q", "-b", "feature", fork)
    repo.write("agents/billing-cycle.yaml", BILLING.replace("Anna Nowak", "Mal Lory"))
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("new owner")
    code, found = check(repo, "--base", "main", "--head", "feature")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "--no-edit", "feature")  # merges cleanly
    assert strict(repo) == 1  # the audit flags the merged content ...
    assert code == 1, found  # ... which the check let through


def test_attack_commit_dated_after_year_9999_crashes_audit_and_status(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """`git commit` and `git fsck` accept a date in the year 10000; the audit's and status's
    date handling end in an internal error, so `audit --strict` never lists anything again."""
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    far = "@253402300800 +0000"
    env = dict(repo.env, GIT_AUTHOR_DATE=far, GIT_COMMITTER_DATE=far)
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-verify", "-m", "unapproved expansion from the far future", env=env)
    for command in (["audit", "--strict"], ["status"]):
        done = repo.ap(*command)
        assert done.code in (0, 1, 2) and "internal error" not in done.text, (command, done.text)
    assert repo.ap("audit", "--strict").code == 1
