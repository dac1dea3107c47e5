"""Red team, round three: attacks on the newest mechanisms (the approval floor, rejections that
persist, the target tip, the trust-root subject, the audit's replay) that still get through, and
everyday workflows that are now wrongly refused. Each test asserts the SAFE or CORRECT behaviour
and fails on the current code.

Every test drives the real `agentpolicy` on a real repository with real ssh-keygen keys.
"""

from __future__ import annotations

import json
import time

from tests.helpers import BILLING, EXPANDED_BILLING, GitRepo, Key, approve, guarded_repo
from tests.helpers import check_findings as check
from tests.helpers import rule_ids as rules


def errors(found: list[dict]) -> list[tuple[str, str, str]]:
    return [(f["rule"], f["file"], f["message"]) for f in found if f["severity"] == "error"]


def audit_events(repo: GitRepo) -> tuple[int, list[dict]]:
    done = repo.ap("audit", "--strict", "--format", "json")
    assert done.code in (0, 1), done.text
    return done.code, json.loads(done.out)["events"]


def test_attack_self_approval_through_a_merge_with_an_old_main_commit(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """Separation of duties counts as authors only the commits of the range that touched the file,
    and a merge "authors" only files that differ from *every* parent. A signer (dev) who wants the
    expansion back that an incident removed records it as a merge whose second parent is the old
    main commit that had it: the file equals that parent's, the parent is not in the range, so the
    change has no author at all and dev approves it herself. The same merge works for the trust
    root (an old `allow_self_approval: true`, a removed signer)."""
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    expanded = repo.commit("expand, approved", author="Anna Nowak <anna.nowak@example.com>")
    time.sleep(1.1)
    repo.write("agents/billing-cycle.yaml", BILLING.replace("version: 1.4.0 ", "version: 1.6.0 "))
    assert approve(repo, keys["rev2"]).code == 0
    repo.commit("incident: narrow again, approved", author="Anna Nowak <anna.nowak@example.com>")
    main = repo.git("rev-parse", "HEAD").strip()
    time.sleep(1.1)
    repo.git("checkout", "-q", "-b", "feature")
    repo.git("checkout", expanded, "--", "agents/billing-cycle.yaml")
    done = approve(repo, keys["dev"])  # dev, the author of this merge, signs
    assert done.code == 0, done.text
    repo.merge_commit("Merge the 1.5.0 boundary back", main, expanded)
    code, found = check(repo, "--base", "main", "--head", "feature")
    assert code == 1 and "AP205" in rules(found), found


def test_attack_self_approved_trust_root_revert_through_a_merge_passes_check_and_audit(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """The same merge for the trust root: main ran a pilot with `allow_self_approval: true`, then
    switched it off (approved). A signer (dev) records the old configuration as a merge whose second
    parent is the pilot commit and approves the trust-root change herself: the check passes, and
    once it lands the audit calls it approved. From then on dev approves her own changes."""
    guarded_repo(repo, keys, config="allow_self_approval: true\n")
    pilot = repo.git("rev-parse", "HEAD").strip()
    repo.write(".agentpolicy.yaml", "allow_self_approval: false\n")
    assert approve(repo, keys["rev"], "--trust-root").code == 0
    repo.commit("pilot over: no self-approval", author="Sec Team <sec@example.com>")
    main = repo.git("rev-parse", "HEAD").strip()
    time.sleep(1.1)
    repo.git("checkout", "-q", "-b", "feature")
    repo.git("checkout", pilot, "--", ".agentpolicy.yaml")
    done = approve(repo, keys["dev"], "--trust-root")
    assert done.code == 0, done.text
    repo.merge_commit("Merge pilot settings", main, pilot)
    code, found = check(repo, "--base", "main", "--head", "feature")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--ff-only", "feature")
    audit_code, events = audit_events(repo)
    trust = [
        (e["commit"][:8], e["approved"], [r["email"] for r in e["reviewers"]])
        for e in events
        if e["agent"] == "@trust-root"
    ]
    assert (code, "AP205" in rules(found), audit_code) == (1, True, 1), (found, trust)


def test_attack_branch_forked_before_main_governed_a_folder_changes_an_agent_there(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """The target tip's rules bind a range check (threshold, packs, self-approval, signers), but
    not its agent globs. Main extends `agents:` to `bots/` (approved; the agents there are approved
    as creations). A branch forked before expands an agent under `bots/` with no review: the check
    judges with the merge base's globs, sees no agent file changed, and AP209 (which also reads the
    base's globs) sees nothing either. The merge lands an unapproved expansion."""
    guarded_repo(repo, keys)
    helper = BILLING.replace("name: billing-cycle ", "name: bot-helper    ")
    repo.write("bots/helper.yaml", helper)
    repo.commit("a helper bot, not governed yet")
    fork = repo.git("rev-parse", "HEAD").strip()
    repo.write(".agentpolicy.yaml", "agents: ['agents/**/*.yaml', 'bots/**/*.yaml']\n")
    assert approve(repo, keys["rev"], "--trust-root").code == 0
    assert approve(repo, keys["rev"], "bot-helper").code == 0
    repo.commit("govern bots/ too", author="Sec Team <sec@example.com>")
    assert check(repo, "--base", "HEAD~1", "--head", "HEAD")[0] == 0
    repo.git("checkout", "-q", "-b", "feature", fork)
    repo.write("bots/helper.yaml", EXPANDED_BILLING.replace("name: billing-cycle ", "name: bot-helper    "))
    repo.commit("expand the helper bot", author="Eve Sneaky <eve@example.com>")
    code, found = check(repo, "--base", "main", "--head", "feature")
    assert code == 1 and {"AP201", "AP209"} & rules(found), found


def test_retiring_an_agent_whose_reviewer_rejected_then_approved_it_is_wrongly_refused(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """Everyday: rev rejects a new agent, the author answers in the discussion, rev approves the
    same content, it lands. A year later the agent is deleted and rev2 signs the `retire` entry. A
    deletion is bound to the old content, so rev's old `reject` of that content is read again; the
    judge remembers each key's last decision, but skips rev's later `approve` (not a decision a
    deletion needs) before remembering it. The old rejection stands: AP203 "rejected by rev"."""
    repo.write(".agentpolicy/allowed_signers", "".join(keys[n].signer_line() + "\n" for n in ("rev", "rev2")))
    repo.write("README.md", "agents\n")
    repo.commit("signers", author="Sec Team <sec@example.com>")
    repo.write("agents/billing-cycle.yaml", BILLING)
    assert approve(repo, keys["rev"], "billing-cycle", "--decision", "reject", "--note", "why?").code == 0
    time.sleep(1.1)
    assert approve(repo, keys["rev"], "billing-cycle", "--note", "answered, fine").code == 0
    repo.commit("billing agent, approved after a question")
    assert check(repo, "--base", "HEAD~1", "--head", "HEAD")[0] == 0
    time.sleep(1.1)
    (repo.path / "agents/billing-cycle.yaml").unlink()
    done = approve(repo, keys["rev2"])
    assert done.code == 0 and "retire" in done.text, done.text
    repo.commit("retire billing")
    code, found = check(repo, "--base", "HEAD~1", "--head", "HEAD")
    assert code == 0, found


def test_init_placeholder_in_the_reviews_folder_counts_as_evidence(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """`agentpolicy init` creates `reviews/.gitkeep`. The check treats every file under the
    reviews folder as an append-only entry (the audit reads only *.yaml/*.yml, as the check does
    when it counts entries): deleting the placeholder once real entries exist, or fixing a typo in
    a `reviews/README.md`, is AP210 "existing review entry deleted/modified"; and on a fresh repo
    `reviews:` can never be renamed, because the placeholder "holds review entries"."""
    repo.write("README.md", "x\n")
    repo.commit("start")
    assert repo.ap("init").code == 0
    repo.write(".agentpolicy/allowed_signers", keys["rev"].signer_line() + "\n")
    repo.write("reviews/README.md", "Signed review entries; written by agentpolicy approve.\n")
    repo.commit("adopt agentpolicy", author="Sec Team <sec@example.com>")
    config = repo.read(".agentpolicy.yaml").replace("reviews: reviews", "reviews: approvals")
    repo.write(".agentpolicy.yaml", config)
    assert approve(repo, keys["rev"], "--trust-root").code == 0
    repo.stage()
    moved = check(repo, "--staged")
    repo.git("reset", "-q", "--hard")
    repo.git("clean", "-qfd")
    repo.write("reviews/README.md", "Signed review entries, written by `agentpolicy approve`.\n")
    (repo.path / "reviews/.gitkeep").unlink()
    repo.stage()
    tidied = check(repo, "--staged")
    assert (moved[0], tidied[0]) == (0, 0), (errors(moved[1]), errors(tidied[1]))


# One more finding of this round belongs to issue 14 (the first hour): the README's Quick start
# commits before it approves. It is left to that issue.


def test_a_comment_only_signers_file_is_still_bootstrapping(repo: GitRepo, keys: dict[str, Key]) -> None:
    """Without a signing key in git's config, `agentpolicy init` writes an allowed-signers file
    that holds only comments. Committed, it must still mean "bootstrapping", like a missing file:
    the first reviewer can be added (issue 14; before, AP220 and AP305 locked the repository)."""
    repo.write("README.md", "x\n")
    repo.commit("start")
    assert repo.ap("init").code == 0
    repo.stage()
    assert check(repo, "--staged")[0] == 0
    repo.commit("adopt agentpolicy (init's scaffold)")
    with (repo.path / ".agentpolicy/allowed_signers").open("a") as handle:
        handle.write(keys["rev"].signer_line() + "\n")
    done = approve(repo, keys["rev"], "--trust-root")
    assert done.code == 0, done.text
    repo.stage()
    code, found = check(repo, "--staged")
    assert code == 0, errors(found)


def test_attack_warm_digest_cache_drops_pack_thresholds_from_the_audit(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """A pack asks two approvals for agents marked `x-risk: high`. An expansion with one approval
    pushed to main is refused by the check and listed UNAPPROVED by the first audit. But the audit
    caches each blob's *governed* content (name, version, stage, owner, autonomy, undo,
    change_control) and, on the next run, judges the pack's `when` against that alone: `x-risk`
    (or `description`, `monitoring`) is gone, the pack no longer applies, one approval suffices,
    and the nightly `audit --strict` (and `status`) turn green from the second run on."""
    risky = BILLING.replace("description:", "x-risk: high\ndescription:", 1)
    repo.write(
        "acme/pack.yaml",
        (
            "name: acme\napprovals:\n"
            "  - when: {properties: {x-risk: {const: high}}, required: [x-risk]}\n"
            "    approvals_required: 2\n"
        ),
    )
    repo.write(".agentpolicy.yaml", 'policy: ["acme"]\n')
    repo.write(".agentpolicy/allowed_signers", "".join(keys[n].signer_line() + "\n" for n in ("rev", "rev2")))
    repo.write("agents/billing-cycle.yaml", risky)
    assert approve(repo, keys["rev"]).code == 0
    assert approve(repo, keys["rev2"]).code == 0
    repo.commit("billing, high risk, two approvals")
    time.sleep(1.1)
    repo.write(
        "agents/billing-cycle.yaml", EXPANDED_BILLING.replace("description:", "x-risk: high\ndescription:", 1)
    )
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("expand billing with one approval", author="Eve Sneaky <eve@example.com>")
    code, found = check(repo, "--base", "HEAD~1", "--head", "HEAD")
    assert code == 1 and "AP201" in rules(found), found
    first, _ = audit_events(repo)
    second, events = audit_events(repo)
    billing = [
        (e["event"], e["approved"], e["approvals_required"]) for e in events if e["agent"] == "billing-cycle"
    ]
    assert (first, second) == (1, 1), billing
