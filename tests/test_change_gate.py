"""The change gate in staged, working-tree and range modes, on real repositories."""

from __future__ import annotations

import json

from tests.helpers import BILLING, EXPANDED_BILLING, GitRepo, Key, agent_yaml, approve, guarded_repo


def gate(repo: GitRepo, *args: str) -> tuple[int, dict]:
    done = repo.ap("check", "--format", "json", *args)
    assert done.code in (0, 1), done.text
    return done.code, json.loads(done.out)


def rules(report: dict) -> list[str]:
    return [f["rule"] for f in report["findings"] if f["severity"] == "error"]


def test_an_autonomy_expansion_without_review_is_refused_with_the_reason(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.stage()
    done = repo.ap("check", "--staged")
    assert done.code == 1
    assert (
        "agents/billing-cycle.yaml:15:7: error AP201 billing-cycle 1.4.0 -> 1.5.0: version changed, "
        "autonomy expanded (submit-to-client-portal is now autonomous); needs 1 approving review entry "
        "for this content; found none" in done.out
    )
    assert "Ask a reviewer to run: agentpolicy approve billing-cycle" in done.out


def test_the_same_change_with_a_review_entry_passes(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.stage()
    code, report = gate(repo, "--staged")
    assert code == 0, report
    assert report["changes"][0]["approved_by"] == ["Rev <rev@example.com>"]
    assert report["changes"][0]["kinds"] == ["version-changed", "autonomy-expanded"]


def test_the_first_commit_needs_a_review_and_says_which_config_applies(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    repo.write(".agentpolicy/allowed_signers", keys["rev"].signer_line() + "\n")
    repo.write("agents/billing-cycle.yaml", BILLING)
    repo.stage()
    done = repo.ap("check", "--staged")
    assert done.code == 1
    assert "no commit yet" in done.out
    assert "billing-cycle 1.4.0: created; needs 1 approving review entry" in done.out
    assert approve(repo, keys["rev"]).code == 0
    repo.stage()
    done = repo.ap("check", "--staged")
    assert done.code == 0, done.text
    assert "establishes the trust root" in done.out


def test_a_review_for_the_previous_version_does_not_count(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", BILLING.replace("version: 1.4.0", "version: 1.4.1"))
    code, report = gate(repo)
    assert code == 1
    message = report["findings"][0]["message"]
    assert "is for version 1.4.0 with other content, so it does not count" in message


def test_an_agent_edited_after_its_approval_needs_a_new_review(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    repo.write(
        "agents/billing-cycle.yaml",
        EXPANDED_BILLING.replace("approvals_required: 1", "approvals_required: 0"),
    )
    code, report = gate(repo)
    assert code == 1
    mismatch = next(f for f in report["findings"] if f["rule"] == "AP206")
    assert "the agent was edited after the review" in mismatch["message"]
    assert "AP201" in rules(report)


def test_comment_and_key_order_edits_need_no_review(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    lines = BILLING.splitlines(keepends=True)
    reordered = "".join([lines[4], lines[3], *lines[:3], *lines[5:]]).replace(
        "# 2. the boundary", "# boundary:"
    )
    reordered = reordered.replace("  approvals_required: 1\n  process:", "  process:").replace(
        "someone other than the author.\n", "someone other than the author.\n  approvals_required: 1\n"
    )
    repo.write("agents/billing-cycle.yaml", reordered + "# trailing comment\n")
    code, report = gate(repo)
    assert (code, report["findings"], report["changes"]) == (0, [], [])


def test_a_description_change_needs_no_review(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", BILLING.replace("sends notifications.", "notifies people."))
    code, report = gate(repo)
    assert (code, report["findings"]) == (0, [])


def test_a_pure_move_needs_no_review(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    (repo.path / "agents" / "finance").mkdir()
    repo.git("mv", "agents/billing-cycle.yaml", "agents/finance/billing.yaml")
    code, report = gate(repo, "--staged")
    assert code == 0, report
    assert report["changes"][0]["kinds"] == ["moved"]
    assert report["changes"][0]["needs_review"] is False


def test_a_boundary_change_without_version_bump_is_an_error(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING.replace("version: 1.5.0", "version: 1.4.0"))
    code, report = gate(repo)
    assert code == 1
    bump = next(f for f in report["findings"] if f["rule"] == "AP202")
    assert bump["line"] == 4
    assert "without a version bump (still 1.4.0)" in bump["message"]


def test_a_deleted_agent_needs_a_retire_entry_which_approve_writes(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.git("rm", "-q", "agents/billing-cycle.yaml")
    code, report = gate(repo, "--staged")
    assert code == 1
    assert "billing-cycle 1.4.0: deleted" in report["findings"][0]["message"]
    done = approve(repo, keys["rev"])
    assert done.code == 0, done.text
    assert "retire billing-cycle 1.4.0" in done.out
    repo.stage()
    code, report = gate(repo, "--staged")
    assert code == 0, report


def test_two_agents_changed_in_one_commit_are_judged_separately(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/pdf.yaml", agent_yaml())
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"], "pdf-extraction").code == 0
    code, report = gate(repo)
    assert code == 1
    assert [f["agent"] for f in report["findings"] if f["rule"] == "AP201"] == ["billing-cycle"]
    assert {c["agent"] for c in report["changes"]} == {"billing-cycle", "pdf-extraction"}


def test_the_author_cannot_approve_their_own_staged_change(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["dev"]).code == 0  # dev@example.com is the committing git user
    repo.stage()
    code, report = gate(repo, "--staged")
    assert code == 1
    self_approval = next(f for f in report["findings"] if f["rule"] == "AP205")
    assert "Dev <dev@example.com> authored this change" in self_approval["message"]


def test_self_approval_can_be_allowed_by_config(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys, config="allow_self_approval: true\n")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["dev"]).code == 0
    repo.stage()
    code, report = gate(repo, "--staged")
    assert code == 0, report


def test_the_author_of_a_commit_in_the_range_cannot_approve_it(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.commit("expand", author="Rev2 <rev2@example.com>")
    assert approve(repo, keys["rev2"]).code == 0
    repo.commit("approval", author="Someone <someone@example.com>")
    code, report = gate(repo, "--base", "main")
    assert code == 1
    assert "AP205" in rules(report)
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("second approval", author="Someone <someone@example.com>")
    code, report = gate(repo, "--base", "main")
    assert code == 1  # the self-approval stays in the branch and is still refused
    assert rules(report) == ["AP205"]


def test_a_range_with_a_merge_commit_is_judged_on_its_result(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.commit("expand")
    repo.git("checkout", "-q", "main")
    repo.write("agents/pdf.yaml", agent_yaml())
    assert approve(repo, keys["rev"], "pdf-extraction").code == 0
    repo.commit("pdf agent")
    repo.git("checkout", "-q", "feature")
    repo.git("merge", "-q", "--no-edit", "main")
    code, report = gate(repo, "--base", "main")
    assert code == 1
    assert [c["agent"] for c in report["changes"]] == ["billing-cycle"]
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("approval")
    code, report = gate(repo, "--base", "main")
    assert code == 0, report


def test_an_empty_range_passes(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    code, report = gate(repo, "--base", "HEAD")
    assert (code, report["changes"]) == (0, [])


def test_an_unknown_base_fails_closed_with_exit_2(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    done = repo.ap("check", "--base", "origin/nope")
    assert done.code == 2
    assert "unknown revision 'origin/nope'" in done.err


def test_a_shallow_clone_without_the_merge_base_is_exit_2_with_the_fix(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.git("checkout", "-q", "-b", "feature")
    for number in range(3):
        repo.write("notes.txt", f"{number}\n")
        repo.commit(f"note {number}")
    repo.git("checkout", "-q", "main")
    repo.write("other.txt", "x\n")
    repo.commit("main moves on")
    clone = GitRepo.__new__(GitRepo)
    clone.path, clone.home, clone.env = repo.path.parent / "shallow", repo.home, repo.env
    repo.git("clone", "-q", "--depth", "1", "--no-single-branch", f"file://{repo.path}", str(clone.path))
    done = clone.ap("check", "--base", "origin/main", "--head", "origin/feature")
    assert done.code == 2
    assert "shallow" in done.err
    assert "fetch-depth: 0" in done.err


def test_a_change_cannot_relax_the_config_it_is_judged_by(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write(".agentpolicy.yaml", "require_signatures: false\nallow_self_approval: true\n")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.stage()
    done = repo.ap("check", "--staged")
    assert done.code == 1
    assert "AP201" in done.out
    assert ".agentpolicy.yaml differs in the index (staged)" in done.out


def test_a_committed_review_entry_cannot_be_edited_or_deleted(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    entry = next((repo.path / "reviews").rglob("*.yaml"))
    entry.write_text(entry.read_text().replace("Rev", "Mallory"))
    code, report = gate(repo)
    assert code == 1
    assert "existing review entry modified" in report["findings"][0]["message"]
    entry.unlink()
    code, report = gate(repo)
    assert "existing review entry deleted" in report["findings"][0]["message"]


def test_non_ascii_owner_reviewer_and_path_work(repo: GitRepo, keys: dict[str, Key]) -> None:
    repo.write(".agentpolicy/allowed_signers", keys["rev"].signer_line() + "\n")
    repo.write("agents/płatności/faktury.yaml", agent_yaml(name="faktury", owner="Zażółć Gęślą"))
    repo.commit("init")
    repo.write(
        "agents/płatności/faktury.yaml", agent_yaml(name="faktury", owner="Łukasz Żółw", version="1.1.0")
    )
    done = repo.ap(
        "approve", "faktury", "--reviewer", "Jürgen Ôtto <rev@example.com>", "--key", str(keys["rev"].private)
    )
    assert done.code == 0, done.text
    code, report = gate(repo)
    assert code == 0, report
    assert report["changes"][0]["approved_by"] == ["Jürgen Ôtto <rev@example.com>"]


def test_a_reject_entry_for_the_same_content_blocks_even_with_approvals(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    assert (
        approve(repo, keys["rev2"], "billing-cycle", "--decision", "reject", "--note", "numbers wrong").code
        == 0
    )
    code, report = gate(repo)
    assert code == 1
    reject = next(f for f in report["findings"] if f["rule"] == "AP203")
    assert "rejected by Rev2 <rev2@example.com>" in reject["message"]


def test_approvals_required_counts_distinct_reviewers(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write(
        "agents/billing-cycle.yaml",
        EXPANDED_BILLING.replace("approvals_required: 1", "approvals_required: 2"),
    )
    assert approve(repo, keys["rev"]).code == 0
    assert approve(repo, keys["rev"]).code == 0  # the same reviewer twice counts once
    code, report = gate(repo)
    assert code == 1
    assert (
        "needs 2 approving review entries for this content; found 1 (rev@example.com)"
        in report["findings"][0]["message"]
    )
    assert approve(repo, keys["rev2"]).code == 0
    code, report = gate(repo)
    assert code == 0, report


def test_config_can_demand_more_approvals_for_autonomy_expansions(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys, config="autonomy_expansion_approvals: 2\n")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    code, report = gate(repo)
    assert code == 1
    assert "needs 2 approving review entries" in report["findings"][0]["message"]
    narrowed = BILLING.replace("version: 1.4.0", "version: 1.4.1").replace(
        "    - action: send-notifications\n", ""
    )
    repo.write("agents/billing-cycle.yaml", narrowed)
    import shutil

    shutil.rmtree(repo.path / "reviews" / "billing-cycle" / "1.5.0")  # the stale, never committed entry
    assert approve(repo, keys["rev"]).code == 0
    code, report = gate(repo)
    assert code == 0, report  # narrowing needs only the agent's own count
