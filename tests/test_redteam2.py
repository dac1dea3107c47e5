"""Red team, round two: attacks on the one judge that still get through. Each test asserts the SAFE
behaviour and fails on the current code.

Every test drives the real `agentpolicy` on a real repository with real ssh-keygen keys; the audit
side pushes straight to main past the hook (`commit --no-verify`), as docs/security.md assumes an
attacker with commit access can where branch protection is off.
"""

from __future__ import annotations

import json
import subprocess
import time

from tests.helpers import AGENTPOLICY, EXPANDED_BILLING, GitRepo, Key, approve, guarded_repo
from tests.helpers import check_findings as check
from tests.helpers import rule_ids as rules


def timed(repo: GitRepo, *args: str, seconds: float = 60) -> tuple[int | None, str]:
    """Run agentpolicy; (None, '') when it does not finish in time (the process is killed)."""
    try:
        done = subprocess.run(
            [AGENTPOLICY, *args], cwd=repo.path, env=repo.env, capture_output=True, text=True, timeout=seconds
        )
    except subprocess.TimeoutExpired:
        return None, ""
    return done.returncode, done.stdout + done.stderr


def _pack_pushed_to_main(repo: GitRepo, keys: dict[str, Key], pack_yaml: str) -> None:
    """Past the hook: commit 1 adds a rule pack (an unapproved trust-root change), commit 2 expands
    the billing agent without any approval. The audit must list both, whatever the pack holds."""
    guarded_repo(repo, keys)
    repo.write(".agentpolicy.yaml", 'policy: ["acme"]\n')
    repo.write("acme/pack.yaml", pack_yaml)
    repo.commit("a pack", author="Eve Sneaky <eve@example.com>")
    repo.write(
        "agents/billing-cycle.yaml",
        EXPANDED_BILLING.replace(
            "description: Generates the monthly billing documents and sends notifications.",
            "description: " + "a" * 40 + "!",
        ),
    )
    repo.commit("expand, unapproved", author="Eve Sneaky <eve@example.com>")


def test_attack_pack_with_an_unresolvable_ref_crashes_audit_and_status(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """A pack whose `when` is `{$ref: 'urn:nothing'}` passes the schema check of packs
    (`check_schema` does not resolve references) and raises in jsonschema when evaluated: every
    later `audit --strict` and `status` ends in exit 3 and never lists the unapproved expansion."""
    _pack_pushed_to_main(
        repo, keys, "name: acme\napprovals:\n  - when: {$ref: 'urn:nothing'}\n    approvals_required: 2\n"
    )
    audit = repo.ap("audit", "--strict", "--format", "json")
    assert audit.code == 1 and "internal error" not in audit.text, audit.text
    unapproved = {e["agent"] for e in json.loads(audit.out)["events"] if not e["approved"]}
    assert {"billing-cycle", "@trust-root"} <= unapproved, unapproved
    status = repo.ap("status")
    assert status.code in (0, 1, 2) and "internal error" not in status.text, status.text


def test_attack_pack_pattern_that_backtracks_hangs_the_audit(repo: GitRepo, keys: dict[str, Key]) -> None:
    """A pack pushed to main with a nested-quantifier `pattern` in its approval policy, and an agent
    description that makes it backtrack: the nightly `audit --strict` never finishes (28 characters
    already cost 15 s; 41 cost days), so the unapproved changes are never reported. Shipped
    patterns are linear (issue 13, #12), but a pack's patterns are evaluated as written."""
    _pack_pushed_to_main(
        repo,
        keys,
        "name: acme\napprovals:\n  - when: {properties: {description: {pattern: '^(a|a)*$'}}}\n"
        "    approvals_required: 2\n",
    )
    code, text = timed(repo, "audit", "--strict", "--format", "json", seconds=30)
    assert code == 1, f"audit did not finish in 30 s (exit {code}): {text[-400:]}"


def test_attack_shallow_clone_makes_the_strict_audit_pass(repo: GitRepo, keys: dict[str, Key]) -> None:
    """The nightly job runs in a default CI checkout (depth 1). The check refuses a shallow clone
    (exit 2, with the fetch-depth fix); `audit --strict` takes the cut commit's content as a starting
    point, walks one commit, lists nothing and exits 0 over an unapproved expansion that the full
    clone reports. A strict audit that cannot see the history must not pass."""
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.commit("expand, unapproved", author="Eve Sneaky <eve@example.com>")
    repo.write("README.md", "docs\n")
    repo.commit("docs")
    assert repo.ap("audit", "--strict").code == 1
    clone = GitRepo.__new__(GitRepo)
    clone.path, clone.home, clone.env = repo.path.parent / "shallow", repo.home, repo.env
    repo.git("clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone.path))
    done = clone.ap("audit", "--strict")
    assert done.code in (1, 2), (done.code, done.text[-600:])


def test_attack_branch_forked_during_the_pilot_uses_unsigned_approvals_after_main_requires_signatures(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """Main ran a pilot (`require_signatures: false`) and then switched signatures on, approved. A
    branch forked during the pilot expands the agent with an unsigned entry that names a reviewer
    (anyone can type one). The merge base accepts unsigned entries, and the target tip is never
    asked about an entry without a signature (TipTrust returns the base's verdict when
    `entry.signature is None`), so the pull-request check passes with a forged approval."""
    guarded_repo(repo, keys, config="require_signatures: false\n")
    fork = repo.git("rev-parse", "HEAD").strip()
    repo.write(".agentpolicy.yaml", "require_signatures: true\n")
    assert approve(repo, keys["rev"], "--trust-root").code == 0
    repo.commit("pilot over: signatures required", author="Sec Team <sec@example.com>")
    repo.git("checkout", "-q", "-b", "feature", fork)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    typed = repo.ap("approve", "billing-cycle", "--reviewer", "Rev <rev@example.com>")  # no key: unsigned
    assert typed.code == 0, typed.text
    repo.commit("expand billing", author="Eve Sneaky <eve@example.com>")
    code, found = check(repo, "--base", "main", "--head", "feature")
    assert code == 1 and {"AP301", "AP201"} & rules(found), found


def test_attack_old_approval_replays_after_the_reviews_folder_moved(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """An approval is consumed by the change it approved: the floor is the latest entry the before
    side holds for the agent, but only in the *current* `reviews:` folder. Once the organisation
    points `reviews:` to a new folder (approved; the old entries stay where they are, as append-only
    evidence must), every earlier approval is fresh again: copy the old approval of the expansion
    into the new folder, revert the agent to the expanded content, and the check passes."""
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("expand, approved", author="Dev Author <dev@example.com>")
    old = next((repo.path / "reviews" / "billing-cycle" / "1.5.0").glob("*.yaml"))
    repo.write(
        "agents/billing-cycle.yaml",
        EXPANDED_BILLING.replace("1.5.0", "1.6.0").replace(
            "    - action: submit-to-client-portal\n      description: Upload the invoice totals to the client "
            "portal.\n      irreversible: true\n  requires_confirmation: []\n",
            "  requires_confirmation:\n    - action: submit-to-client-portal\n      description: Upload the "
            "invoice totals to the client portal.\n      irreversible: true\n",
        ),
    )
    assert approve(repo, keys["rev2"]).code == 0
    repo.commit("incident: narrow again, approved", author="Dev Author <dev@example.com>")
    repo.write(".agentpolicy.yaml", "reviews: approvals\n")
    done = approve(repo, keys["rev"], "--trust-root")
    assert done.code == 0, done.text
    assert done.out.split()[1].startswith("reviews/")  # written where the before side looks
    repo.commit("reviews move to approvals/", author="Sec Team <sec@example.com>")
    # The fix: the folder cannot move while it holds entries (the floor is only known there).
    code, found = check(repo, "--base", "HEAD~1", "--head", "HEAD")
    assert code == 1 and "AP220" in rules(found), found
    assert any("cannot move" in f["message"] for f in found), found
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)  # back to the consumed 1.5.0 content
    repo.write(str(old.relative_to(repo.path)).replace("reviews/", "approvals/", 1), old.read_bytes())
    repo.commit("expand again, with the old approval", author="Eve Sneaky <eve@example.com>")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--ff-only", "feature")  # pushed past every check
    assert repo.ap("audit", "--strict", "--format", "json").code == 1  # the move is an unapproved event


def test_attack_rejection_recorded_on_main_is_ignored_by_the_pull_request_check(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """A reviewer blocks an open pull request by committing a `reject` entry for its exact content
    to main. The check judges the branch head's entries only (AP209 looks at agent files, not at
    review entries the target gained), so it stays green and the merge lands rejected content.
    The audit then calls the merge unapproved, though only because the reject on the before side
    raises the approval floor (had both entries been signed in one second, the reject would be
    "consumed" and the audit would call it approved too): check and audit disagree."""
    guarded_repo(repo, keys)
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("expand billing, approved by rev", author="Eve Sneaky <eve@example.com>")
    assert check(repo, "--base", "main", "--head", "feature")[0] == 0
    time.sleep(1.1)  # the rejection comes later than the approval, as it does in practice
    assert approve(repo, keys["rev2"], "billing-cycle", "--decision", "reject", "--note", "no").code == 0
    entry = next(p for p in (repo.path / "reviews").rglob("*.yaml") if b"reject" in p.read_bytes())
    data = entry.read_bytes()
    entry.unlink()
    repo.git("checkout", "-q", "main")
    repo.write(str(entry.relative_to(repo.path)), data)
    repo.commit("rev2 rejects the billing expansion", author="Rev Two <rev2@example.com>")
    code, found = check(repo, "--base", "main", "--head", "feature")
    assert code == 1, found
