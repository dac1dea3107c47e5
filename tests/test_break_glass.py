"""Break-glass: an opt-in emergency approval by one allowed signer, loud everywhere, followed up or failing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tests.helpers import EXPANDED_BILLING, GitRepo, Key, approve, check_findings, guarded_repo

ALLOW = "break_glass: {allowed: true, follow_up_days: 3}\n"
REASON = "INC-4711: invoices stuck"


def _day(offset: int) -> str:
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=offset)).isoformat()


def _break_glass(repo: GitRepo, key: Key, agent: str = "billing-cycle", reason: str = REASON) -> object:
    name = key.email.split("@")[0].capitalize()
    return repo.ap(
        "approve", agent, "--reviewer", f"{name} <{key.email}>", "--key", str(key.private),
        "--break-glass", "--reason", reason,
    )  # fmt: skip


def _events(repo: GitRepo, *args: str) -> list[dict]:
    done = repo.ap("audit", "--format", "json", *args)
    assert done.code in (0, 1), done.text
    return json.loads(done.out)["events"]


def test_break_glass_is_refused_without_the_config_key_with_the_line_to_add(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    done = _break_glass(repo, keys["dev"])
    assert done.code == 2, done.text
    assert "add this line to .agentpolicy.yaml: break_glass: {allowed: true, follow_up_days: 3}" in done.err
    assert not (repo.path / "reviews/billing-cycle/1.5.0").exists()


def test_break_glass_needs_a_reason(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys, config=ALLOW)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    done = _break_glass(repo, keys["dev"], reason="  ")
    assert done.code == 2 and "--break-glass needs --reason" in done.err


def test_the_author_breaks_the_glass_check_audit_and_status_agree_and_follow_up_closes_it(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys, config=ALLOW)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert _break_glass(repo, keys["dev"]).code == 0  # dev is the author: allowed in an emergency
    code, found = check_findings(repo)
    assert code == 0, found
    loud = [f for f in found if f["rule"] == "AP211"]
    assert loud and loud[0]["severity"] == "warning"
    assert "BREAK-GLASS" in loud[0]["message"] and "dev@example.com" in loud[0]["message"]
    assert REASON in loud[0]["message"]
    repo.commit("emergency: let the billing agent submit alone")
    event = _events(repo)[-1]
    assert event["approved"] is True and event["approved_via"] == "break-glass"
    assert event["follow_up_due"] == _day(3) and event["followed_up_in"] is None
    assert event["reviewers"][0]["decision"] == "break-glass"
    status = json.loads(repo.ap("status", "--format", "json").out)["agents"][0]
    assert status["approved"] is True and status["approved_via"] == "break-glass"
    assert repo.ap("audit", "--strict", "--format", "json").code == 0  # still within follow_up_days
    late = repo.ap("audit", "--strict", "--format", "json", "--as-of", _day(5))
    assert late.code == 1 and json.loads(late.out)["events"][-1]["followed_up_in"] is None
    assert "BREAK-GLASS" in repo.ap("audit", "--format", "table").out
    # the regular approval of the same content follows: the deadline no longer bites
    assert approve(repo, keys["rev"]).code == 0
    follow = repo.commit("follow-up review", author="Rita Reviewer <rev@example.com>")
    event = _events(repo)[-1]
    assert event["followed_up_in"] == follow
    assert repo.ap("audit", "--strict", "--format", "json", "--as-of", _day(5)).code == 0


def test_attack_break_glass_when_not_allowed_does_not_count(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.write(".agentpolicy.yaml", ALLOW)  # the change cannot allow itself: the before side judges
    # a signed break-glass entry, made in a repository that does allow it, copied in
    other = GitRepo(repo.path.parent / "other", repo.home)
    guarded_repo(other, keys, config=ALLOW)
    other.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert _break_glass(other, keys["dev"]).code == 0
    for entry in (other.path / "reviews/billing-cycle/1.5.0").iterdir():
        repo.write(f"reviews/billing-cycle/1.5.0/{entry.name}", entry.read_bytes())
    code, found = check_findings(repo)
    assert code == 1
    refused = [f for f in found if f["rule"] == "AP211"]
    assert (
        refused
        and refused[0]["severity"] == "error"
        and "does not allow break-glass" in refused[0]["message"]
    )
    assert any(f["rule"] == "AP201" for f in found)


def test_attack_break_glass_by_a_key_not_allowed(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys, config=ALLOW)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert _break_glass(repo, keys["mallory"]).code == 0  # written, with a warning: not listed
    code, found = check_findings(repo)
    assert code == 1 and "AP201" in {f["rule"] for f in found}
    assert not [f for f in found if f["rule"] == "AP211" and f["severity"] == "warning"]


def test_attack_break_glass_reused_for_other_content(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys, config=ALLOW)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert _break_glass(repo, keys["dev"]).code == 0
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING.replace("version: 1.5.0 ", "version: 1.6.0 "))
    code, found = check_findings(repo)
    assert code == 1 and {"AP201", "AP206"} <= {f["rule"] for f in found}


def test_attack_break_glass_copied_for_a_revert_is_consumed(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys, config=ALLOW)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert _break_glass(repo, keys["dev"]).code == 0
    repo.commit("emergency")
    entry = next((repo.path / "reviews/billing-cycle/1.5.0").iterdir())
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING.replace("version: 1.5.0 ", "version: 1.6.0 "))
    assert approve(repo, keys["rev"]).code == 0
    repo.commit("1.6.0", author="Rita Reviewer <rev@example.com>")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)  # back to the break-glass content
    repo.write(f"reviews/billing-cycle/1.5.0/copy-{entry.name}", entry.read_bytes())
    code, found = check_findings(repo)
    assert code == 1 and "AP208" in {f["rule"] for f in found}


def test_break_glass_never_approves_a_trust_root_change(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    guarded_repo(repo, keys, config=ALLOW)
    repo.write(".agentpolicy.yaml", ALLOW + "allow_self_approval: true\n")
    done = repo.ap(
        "approve", "--trust-root", "--break-glass", "--reason", "x", "--key", str(keys["dev"].private)
    )
    assert done.code == 2 and "--break-glass takes --reason, not --trust-root" in done.err
