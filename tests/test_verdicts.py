"""Attacks on the verdict itself: each refused by check and flagged by `audit --strict` (issue 13).

Every test is named after the attack. They drive the real `agentpolicy` on real
repositories with real ssh-keygen keys; the audit side of each attack pushes the
change straight to main (past the hook), as an attacker with commit access would.
"""

from __future__ import annotations

import json
import shutil

from tests.helpers import BILLING, EXPANDED_BILLING, GitRepo, Key, agent_yaml, approve, guarded_repo
from tests.helpers import check_findings as check
from tests.helpers import rule_ids as rules
from tests.helpers import strict_audit as strict
from tests.helpers import write_signers as signers


def audit_events(repo: GitRepo, *args: str) -> list[dict]:
    done = repo.ap("audit", "--format", "json", *args)
    assert done.code == 0, done.text
    return json.loads(done.out)["events"]


# -- one key, many reviewers (attack 3) ---------------------------------------------------


def test_attack_one_key_listed_for_two_addresses_counts_once(repo: GitRepo, keys: dict[str, Key]) -> None:
    rev = keys["rev"]
    guarded_repo(repo, keys)
    signers(repo, f'rev@example.com,rev.alt@example.com namespaces="agentpolicy-review" {rev.public_text}')
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-verify", "-m", "second address for rev")
    two = EXPANDED_BILLING.replace("approvals_required: 1", "approvals_required: 2")
    repo.write("agents/billing-cycle.yaml", two)
    assert approve(repo, rev).code == 0
    done = repo.ap(
        "approve", "billing-cycle", "--reviewer", "Rev Alt <rev.alt@example.com>", "--key", str(rev.private)
    )
    assert done.code == 0, done.text
    code, found = check(repo)
    assert code == 1
    needs = [f for f in found if f["rule"] == "AP201"]
    assert needs and "needs 2 approving review entries" in needs[0]["message"], found
    assert "found 1" in needs[0]["message"]


def test_attack_author_approves_under_a_second_address_of_their_key(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    dev = keys["dev"]
    guarded_repo(repo, keys)
    signers(
        repo,
        keys["rev"].signer_line(),
        f'dev@example.com,dev.other@example.com namespaces="agentpolicy-review" {dev.public_text}',
    )
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-verify", "-m", "dev gets a second address")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    done = repo.ap(
        "approve",
        "billing-cycle",
        "--reviewer",
        "Dev Other <dev.other@example.com>",
        "--key",
        str(dev.private),
    )
    assert done.code == 0, done.text
    code, found = check(repo)
    assert code == 1 and "AP205" in rules(found), found
    repo.commit("expand, self-approved under another address")
    assert strict(repo) == 1


def test_attack_wildcard_principal_key_approves_own_change(repo: GitRepo, keys: dict[str, Key]) -> None:
    dev = keys["dev"]
    guarded_repo(repo, keys)
    signers(
        repo, keys["rev"].signer_line(), f'*@example.com namespaces="agentpolicy-review" {dev.public_text}'
    )
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-verify", "-m", "dev's key may sign for anyone at example.com")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    done = repo.ap(
        "approve", "billing-cycle", "--reviewer", "Someone <someone@example.com>", "--key", str(dev.private)
    )
    assert done.code == 0, done.text
    code, found = check(repo)
    assert code == 1 and "AP205" in rules(found), found


# -- revoked keys on old branches (attack 5) ----------------------------------------------


def test_attack_branch_forked_before_a_key_was_removed_still_uses_it(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("expand, approved by rev")
    repo.git("checkout", "-q", "main")
    signers(repo, keys["rev2"].signer_line(), keys["dev"].signer_line())  # rev's key is removed
    assert approve(repo, keys["rev2"], "--trust-root").code == 0
    repo.commit("remove rev's key", author="Rev Two <rev2@example.com>")
    code, found = check(repo, "--base", "main", "--head", "feature")
    assert code == 1, found
    assert "AP201" in rules(found)
    assert any("target branch's tip" in f["message"] for f in found), found


def test_attack_branch_forked_before_a_key_was_revoked_still_uses_it(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys, config="revoked_signers: .agentpolicy/revoked\n")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("expand, approved by rev")
    repo.git("checkout", "-q", "main")
    repo.write(".agentpolicy/revoked", keys["rev"].public_text + "\n")
    assert approve(repo, keys["rev2"], "--trust-root").code == 0
    repo.commit("revoke rev's key", author="Rev Two <rev2@example.com>")
    code, found = check(repo, "--base", "main", "--head", "feature")
    assert code == 1 and "AP201" in rules(found), found


# -- old approvals replayed (attack 7) ------------------------------------------------------


def test_attack_revert_to_earlier_content_reuses_its_old_approval(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("expand, approved")
    repo.write("agents/billing-cycle.yaml", BILLING)  # back to 1.4.0, approved long ago
    code, found = check(repo)
    assert code == 1 and "AP201" in rules(found), found
    assert any("consumed" in f["message"] for f in found), found
    repo.commit("downgrade after an incident", author="Eve Sneaky <eve@example.com>")
    assert strict(repo) == 1
    assert audit_events(repo)[-1]["approved"] is False


def test_attack_recreate_retired_agent_reuses_its_old_approval(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.git("rm", "-q", "agents/billing-cycle.yaml")
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("retire billing")
    repo.write("agents/billing-cycle.yaml", BILLING)
    code, found = check(repo)
    assert code == 1 and "AP201" in rules(found), found
    repo.commit("bring it back")
    assert strict(repo) == 1


def test_attack_old_entry_copied_under_a_new_name_does_not_count(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    original = next((repo.path / "reviews" / "billing-cycle" / "1.4.0").glob("*.yaml"))
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("expand, approved")
    repo.write("agents/billing-cycle.yaml", BILLING)
    shutil.copy(original, original.with_name("20991231T235959Z-copy.yaml"))
    code, found = check(repo)
    assert code == 1, found
    assert {"AP201", "AP208"} <= rules(found), found


def test_a_fresh_approval_of_earlier_content_counts(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("expand, approved")
    repo.write("agents/billing-cycle.yaml", BILLING)
    assert approve(repo, keys["rev2"]).code == 0
    code, found = check(repo)
    assert code == 0, found
    repo.commit("revert, approved again")
    assert strict(repo) == 0


# -- the audit judges each commit by its parent's rules (attacks 8 and 9) -------------------


def test_attack_one_commit_adds_a_signer_and_uses_it(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys, "rev", "rev2")
    signers(repo, keys["rev"].signer_line(), keys["rev2"].signer_line(), keys["mallory"].signer_line())
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["mallory"]).code == 0
    assert approve(repo, keys["mallory"], "--trust-root").code == 0
    repo.commit("mallory adds herself and approves", author="Mallory <mallory@example.com>")
    assert strict(repo) == 1
    by_agent = {e["agent"]: e for e in audit_events(repo)[1:]}
    assert by_agent["billing-cycle"]["approved"] is False
    assert by_agent["@trust-root"]["approved"] is False


def test_attack_one_commit_switches_signatures_off_and_approves_unsigned(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write(".agentpolicy.yaml", "require_signatures: false\n")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert repo.ap("approve", "billing-cycle", "--reviewer", "Rev <rev@example.com>").code == 0
    repo.commit("relax and approve unsigned", author="Eve Sneaky <eve@example.com>")
    assert strict(repo) == 1
    assert [e["agent"] for e in audit_events(repo, "--unapproved-only")] == ["billing-cycle", "@trust-root"]


def test_attack_expansion_threshold_of_two_with_one_approval_in_audit(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys, config="autonomy_expansion_approvals: 2\n")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    code, found = check(repo)
    assert code == 1 and "AP201" in rules(found)
    repo.commit("expand with one approval")
    assert strict(repo) == 1
    assert audit_events(repo)[-1]["approvals_required"] == 2


def test_attack_author_approves_own_change_in_audit(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["dev"]).code == 0
    repo.commit("expand, self-approved")  # authored and committed by dev@example.com
    assert strict(repo) == 1


def test_attack_reject_entry_ignored_in_audit(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    assert approve(repo, keys["rev2"], "billing-cycle", "--decision", "reject").code == 0
    code, found = check(repo)
    assert code == 1 and "AP203" in rules(found)
    repo.commit("expand despite a rejection")
    assert strict(repo) == 1


# -- backdating through the commit date (attack 10) ----------------------------------------


def test_attack_backdated_commit_revives_an_expired_key(repo: GitRepo, keys: dict[str, Key]) -> None:
    expired = keys["rev2"].signer_line('namespaces="agentpolicy-review",valid-before="20200101"')
    signers(repo, keys["rev"].signer_line(), expired)
    repo.write("agents/billing-cycle.yaml", BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("billing agent")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev2"]).code == 0
    old = "2019-06-01T12:00:00Z"
    env = dict(repo.env, GIT_AUTHOR_DATE=old, GIT_COMMITTER_DATE=old)
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-verify", "-m", "dated before the key expired", env=env)
    assert strict(repo) == 1
    done = repo.ap("audit", "--format", "json")
    assert any("earlier than an ancestor" in note["message"] for note in json.loads(done.out)["notes"])


# -- blind spots (attack 11) ----------------------------------------------------------------


def test_attack_glob_without_a_folder_hides_history_from_the_audit(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys, config='agents: ["agents/*.yaml", "**/*.agent.yaml"]\n')
    repo.write("team/pdf.agent.yaml", agent_yaml())
    repo.commit("pdf agent, never reviewed")
    events = audit_events(repo)
    assert [(e["agent"], e["approved"]) for e in events] == [
        ("billing-cycle", True),
        ("pdf-extraction", False),
    ]
    assert strict(repo) == 1


def test_attack_moving_the_agents_folder_erases_earlier_unapproved_events(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/pdf.yaml", agent_yaml())
    repo.commit("pdf agent, never reviewed")
    repo.write(".agentpolicy.yaml", 'agents: ["agents/**/*.yaml", "bots/**/*.yaml"]\n')
    assert approve(repo, keys["rev"], "--trust-root").code == 0
    repo.commit("also govern bots/", author="Rev Two <rev2@example.com>")
    repo.git("mv", "agents", "bots")
    repo.commit("move the folder")
    repo.write(".agentpolicy.yaml", 'agents: ["bots/**/*.yaml"]\n')
    assert approve(repo, keys["rev"], "--trust-root").code == 0
    repo.commit("only bots/", author="Rev Two <rev2@example.com>")
    unapproved = [(e["agent"], e["event"], e["file"]) for e in audit_events(repo, "--unapproved-only")]
    assert unapproved == [("pdf-extraction", "created", "agents/pdf.yaml")]


def test_attack_second_file_defining_an_existing_agent_is_reported(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/zz-shadow.yaml", EXPANDED_BILLING)
    repo.commit("a second billing-cycle")
    duplicates = [e for e in audit_events(repo) if e["event"] == "duplicate-definition"]
    assert duplicates and duplicates[0]["file"] == "agents/zz-shadow.yaml"
    assert strict(repo) == 1


def test_attack_widening_the_globs_slips_in_an_unreviewed_agent(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("bots/pdf.yaml", agent_yaml())
    repo.commit("a file outside the governed folder")
    repo.write(".agentpolicy.yaml", 'agents: ["agents/**/*.yaml", "bots/**/*.yaml"]\n')
    assert approve(repo, keys["rev"], "--trust-root").code == 0
    code, found = check(repo)
    assert code == 1 and any(f["rule"] == "AP201" and f["agent"] == "pdf-extraction" for f in found), found
    repo.commit("govern bots/ too", author="Rev Two <rev2@example.com>")
    assert ("pdf-extraction", False) in [(e["agent"], e["approved"]) for e in audit_events(repo)]


# -- the hook's identity (attack 17) ----------------------------------------------------------


def test_attack_hook_ignores_git_author_email_from_the_environment(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.stage()
    as_rev = dict(repo.env, GIT_AUTHOR_EMAIL="rev@example.com", GIT_AUTHOR_NAME="Rev")
    code, found = check(repo, "--staged", env=as_rev)
    assert code == 1 and "AP205" in rules(found), found


def test_attack_hook_ignores_git_dash_c_user_email(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.stage()
    as_rev = dict(repo.env, GIT_CONFIG_PARAMETERS="'user.email'='rev@example.com'")
    code, found = check(repo, "--staged", env=as_rev)
    assert code == 1 and "AP205" in rules(found), found


# -- one bad configuration in history (attack 22) -------------------------------------------


def test_attack_impossible_waiver_date_stops_every_later_audit(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write(
        ".agentpolicy.yaml",
        "waivers:\n  - rule: AP112\n    agent: billing-cycle\n    reason: pilot\n"
        "    owner: {name: Anna Nowak, email: anna.nowak@example.com}\n    expires: '2027-02-30'\n",
    )
    repo.commit("a waiver that can never be read", author="Eve Sneaky <eve@example.com>")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.commit("expand, unreviewed", author="Eve Sneaky <eve@example.com>")
    done = repo.ap("audit", "--strict", "--format", "json")
    assert done.code == 1, done.text
    report = json.loads(done.out)
    assert ("billing-cycle", "autonomy-expanded", False) in [
        (e["agent"], e["event"], e["approved"]) for e in report["events"]
    ]
    assert any("cannot be read" in note["message"] for note in report["notes"]), report["notes"]


def test_a_target_branch_whose_configuration_cannot_be_read_stops_the_pr_check(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("expand, approved")
    repo.git("checkout", "-q", "main")
    repo.write(".agentpolicy.yaml", "require_signatures: perhaps\n")
    repo.commit("broken configuration, past the hook")
    done = repo.ap("check", "--base", "main", "--head", "feature")
    assert done.code == 2, done.text
    assert "the branch this change lands on" in done.err and "Traceback" not in done.err
