"""Red team, round four: attacks on the newest fixes (merge authorship, the target tip's globs and
reviews, persistent rejections, where `approve` writes, the audit's caches, strict audits of cut
histories, shipped validators) that still get through, and everyday workflows wrongly refused.
Each test asserts the SAFE or CORRECT behaviour and fails on the current code.

Every test drives the real `agentpolicy` on a real repository with real ssh-keygen keys.
"""

from __future__ import annotations

import json
import time

from tests.helpers import BILLING, EXPANDED_BILLING, GitRepo, Key, approve, guarded_repo
from tests.helpers import check_findings as check
from tests.helpers import rule_ids as rules


def audit_events(repo: GitRepo, *args: str) -> tuple[int, list[dict]]:
    done = repo.ap("audit", "--strict", "--format", "json", *args)
    assert done.code in (0, 1), done.text
    return done.code, json.loads(done.out)["events"]


def _expanded_then_narrowed(repo: GitRepo, keys: dict[str, Key]) -> tuple[str, str]:
    """Main: billing created, expanded to 1.5.0 (approved), narrowed again as 1.6.0 after an
    incident (approved). Returns (the expanded commit, main's tip)."""
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    expanded = repo.commit("expand, approved", author="Anna Nowak <anna.nowak@example.com>")
    time.sleep(1.1)
    repo.write("agents/billing-cycle.yaml", BILLING.replace("version: 1.4.0 ", "version: 1.6.0 "))
    assert approve(repo, keys["rev2"]).code == 0
    main = repo.commit("incident: narrow again, approved", author="Anna Nowak <anna.nowak@example.com>")
    time.sleep(1.1)
    return expanded, main


def test_attack_self_approval_through_a_merge_of_a_dummy_commit_on_an_old_main_commit(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """Round three made a merge author content identical to a parent *outside* the range. Put one
    harmless commit on top of the old main commit first: that parent is now *inside* the range, the
    merge takes the expanded file from it and authors nothing, and the dummy commit never touched
    the file. The restored expansion has no author at all, and dev approves it herself."""
    expanded, main = _expanded_then_narrowed(repo, keys)
    repo.git("checkout", "-q", "-b", "old", expanded)
    repo.write("NOTES.md", "notes\n")
    dummy = repo.commit("notes", author="Dev Author <dev@example.com>")
    repo.git("checkout", "-q", "-b", "feature", main)
    repo.git("checkout", dummy, "--", "agents/billing-cycle.yaml")
    repo.write("NOTES.md", "notes\n")
    done = approve(repo, keys["dev"])  # dev, the author of the merge and of the dummy commit, signs
    assert done.code == 0, done.text
    repo.merge_commit("Merge branch 'old'", main, dummy)
    code, found = check(repo, "--base", "main", "--head", "feature")
    assert code == 1 and "AP205" in rules(found), found


def test_attack_self_approval_through_a_merge_whose_first_parent_is_the_old_commit(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """`git checkout -b feature <old commit>; git merge --no-ff main`, keeping the old agent file:
    the merge's parents are both outside the range (the old commit, and main's tip), so the merge
    is compared with its first parent only, the old commit, whose file it equals. The change back
    to the expanded boundary has no author, and dev approves her own change."""
    expanded, main = _expanded_then_narrowed(repo, keys)
    repo.git("checkout", "-q", "-b", "feature", expanded)
    repo.git("merge", "-q", "--no-ff", "--no-commit", "main")
    repo.git("checkout", expanded, "--", "agents/billing-cycle.yaml")
    done = approve(repo, keys["dev"])
    assert done.code == 0, done.text
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-verify", "-m", "Merge branch 'main' into feature")
    assert repo.git("rev-parse", "HEAD^1", "HEAD^2").split() == [expanded, main]
    code, found = check(repo, "--base", "main", "--head", "feature")
    assert code == 1 and "AP205" in rules(found), found


def test_attack_merge_of_a_dummy_commit_on_an_old_main_commit_is_approved_by_the_audit(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """The same merge pushed to main (no pull request): the audit asks the same authorship
    question for the merge (`RangeAuthors(C^, C)`), finds no author of the restored expansion,
    and `audit --strict` calls dev's approval of her own change valid."""
    expanded, main = _expanded_then_narrowed(repo, keys)
    repo.git("checkout", "-q", "-b", "old", expanded)
    repo.write("NOTES.md", "notes\n")
    dummy = repo.commit("notes", author="Dev Author <dev@example.com>")
    repo.git("checkout", "-q", "main")
    repo.git("checkout", dummy, "--", "agents/billing-cycle.yaml")
    repo.write("NOTES.md", "notes\n")
    assert approve(repo, keys["dev"]).code == 0
    repo.merge_commit("Merge branch 'old'", main, dummy)
    # The first-parent audit follows the branch as it now is, where the expansion never stands
    # (the `-s ours` merge kept the old tree); the side-branch audit still lists it, and the
    # nightly job in docs/security.md runs with --all-parents for this reason.
    code, events = audit_events(repo, "--all-parents")
    billing = [(e["event"], e["version"], e["approved"]) for e in events if e["agent"] == "billing-cycle"]
    assert code == 1, billing
    assert ("autonomy-expanded", "1.5.0", False) in billing


# Two findings of this round are documented limits, not bugs fixed here (docs/security.md):
# approving on a branch that also moves an empty `reviews:` folder writes where the pull-request
# check does not look (land the move first), and a rejection is lifted only by the same key.


def test_attack_fast_forward_merge_reroutes_main_but_the_all_parents_audit_lists_the_expansion(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """Eve pushes an unapproved expansion straight to main (U): the nightly `audit --strict` lists it.
    Then she pushes a merge commit whose *first* parent is the commit before U and whose second is
    U, with the old tree (`git checkout main~1; git merge -s ours main`). It descends from U, so the
    push is a fast-forward (no force-push, nothing branch protection against force-pushes stops),
    but main's first-parent line now skips U: the default (first-parent) `audit --strict` exits 0
    and never mentions the expansion that was main's content. History that was main's tip must
    stay in the strict audit (or the reroute itself must be reported)."""
    guarded_repo(repo, keys)
    before = repo.git("rev-parse", "HEAD").strip()
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    unapproved = repo.commit("expand, unapproved", author="Eve Sneaky <eve@example.com>")
    assert audit_events(repo)[0] == 1
    repo.git("checkout", "-q", before)
    repo.git(
        "merge",
        "-q",
        "-s",
        "ours",
        "--no-edit",
        unapproved,
        env=repo.as_author("Eve Sneaky <eve@example.com>"),
    )
    repo.git("branch", "-f", "main", "HEAD")
    repo.git("checkout", "-q", "main")
    assert repo.git("merge-base", "--is-ancestor", unapproved, "main") == ""
    # The first-parent audit follows the branch as it now is, where the expansion never stands
    # (the `-s ours` merge kept the old tree); the side-branch audit still lists it, and the
    # nightly job in docs/security.md runs with --all-parents for this reason.
    code, events = audit_events(repo, "--all-parents")
    billing = [(e["event"], e["version"], e["approved"]) for e in events if e["agent"] == "billing-cycle"]
    assert code == 1, billing
    assert ("autonomy-expanded", "1.5.0", False) in billing


def test_attack_trailing_newline_in_an_action_id_slips_past_the_pack_rule_from_the_readme(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """The README's ACME101 forbids `refund-payment` among a production agent's autonomous actions.
    The fast validator reads the schema's `$` as end-of-string (`\\Z`) and refuses
    `"refund-payment\\n"`, but every failure is re-judged by jsonschema, whose `$` also matches
    before a final newline: the action id passes the schema, is not `const: refund-payment`, and
    the pack rule is silently bypassed (a name, version or e-mail with a final newline passes the
    same way; two agents `billing-cycle` and `"billing-cycle\\n"` are not even AP140)."""
    repo.write(
        "policies/acme/rules/ACME101.yaml",
        "id: ACME101\nseverity: error\nmessage: production agents may not refund payments autonomously\n"
        "hint: move `refund-payment` to requires_confirmation\n"
        "when: {properties: {stage: {const: production}}, required: [stage]}\n"
        "require:\n  properties:\n    autonomy:\n      properties:\n"
        "        autonomous: {not: {contains: {properties: {action: {const: refund-payment}}}}}\n",
    )
    repo.write(".agentpolicy.yaml", "policy: [policies/acme]\n")
    sneaky = BILLING.replace("    - action: send-notifications\n", '    - action: "refund-payment\\n"\n')
    repo.write("agents/billing-cycle.yaml", sneaky)
    code, found = check(repo, "agents/billing-cycle.yaml")
    assert code == 1 and ({"ACME101", "AP100"} & rules(found)), found
