"""Re-attestation: `review_every` makes an old approval due again; a fresh approve of unchanged content restarts it."""

from __future__ import annotations

import datetime as dt
import json

from tests.helpers import BILLING, GitRepo, Key, approve, check_findings, write_signers

EVERY = "review_every: 30d\n"


def _ago(days: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=days)


def _commit_at(
    repo: GitRepo, when: dt.datetime, message: str, author: str = "Dev Author <dev@example.com>"
) -> str:
    env = repo.as_author(author)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
    env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-verify", "-m", message, env=env)
    return repo.git("rev-parse", "HEAD").strip()


def _status(repo: GitRepo, *args: str) -> dict:
    done = repo.ap("status", "--format", "json", *args)
    assert done.code in (0, 1), done.text
    return json.loads(done.out)["agents"][0]


def _approved_long_ago(
    repo: GitRepo, keys: dict[str, Key], config: str = EVERY, agent: str = BILLING
) -> None:
    write_signers(repo, keys["rev"].signer_line(), keys["rev2"].signer_line())
    repo.write(".agentpolicy.yaml", config)
    repo.write("agents/billing-cycle.yaml", agent)
    assert approve(repo, keys["rev"]).code == 0
    _commit_at(repo, _ago(100), "billing agent, approved")


def test_an_old_approval_is_overdue_strict_fails_and_as_of_shows_what_was_due(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    _approved_long_ago(repo, keys)
    row = _status(repo)
    assert row["approved"] is True and row["review_every"] == "30d" and row["review_overdue"] is True
    assert (
        row["review_days_left"] == -70
        and row["last_approved"] == f"{_ago(100):%Y-%m-%d}" + row["last_approved"][10:]
    )
    assert repo.ap("status", "--strict", "--format", "json").code == 1
    assert "review OVERDUE by 70 d" in repo.ap("status", "--format", "table").out
    then = _status(repo, "--as-of", f"{_ago(90):%Y-%m-%d}")
    assert then["review_overdue"] is False and then["review_days_left"] == 20
    assert repo.ap("status", "--strict", "--format", "json", "--as-of", f"{_ago(90):%Y-%m-%d}").code == 0


def test_check_warns_about_an_overdue_agent_and_never_blocks_an_unrelated_commit(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    _approved_long_ago(repo, keys)
    repo.write("README.md", "unrelated\n")
    repo.stage()
    code, found = check_findings(repo, "--staged")
    assert code == 0
    due = [f for f in found if f["rule"] == "AP212"]
    assert due and due[0]["severity"] == "warning" and "overdue by 70 day(s)" in due[0]["message"]
    assert "agentpolicy approve billing-cycle" in due[0]["hint"]


def test_a_fresh_approve_of_unchanged_content_restarts_the_clock(repo: GitRepo, keys: dict[str, Key]) -> None:
    _approved_long_ago(repo, keys)
    assert approve(repo, keys["rev2"], "billing-cycle", "--note", "still right").code == 0
    again = _commit_at(repo, dt.datetime.now(dt.UTC), "re-attest billing-cycle")
    row = _status(repo)
    assert row["review_overdue"] is False and row["review_days_left"] in (29, 30)
    event = json.loads(repo.ap("audit", "--format", "json").out)["events"][-1]
    assert event["reattested_in"] == [again] and event["event"] == "created"
    assert repo.ap("status", "--strict", "--format", "json").code == 0
    code, found = check_findings(repo)
    assert code == 0 and "AP212" not in {f["rule"] for f in found}


def test_attack_a_re_approval_by_an_unknown_key_does_not_restart_the_clock(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    _approved_long_ago(repo, keys)
    assert approve(repo, keys["mallory"]).code == 0
    _commit_at(repo, dt.datetime.now(dt.UTC), "mallory re-attests")
    assert _status(repo)["review_overdue"] is True


def test_the_agent_file_overrides_the_configured_interval(repo: GitRepo, keys: dict[str, Key]) -> None:
    agent = BILLING.replace("  approvals_required: 1\n", "  approvals_required: 1\n  review_every: 365d\n")
    _approved_long_ago(repo, keys, agent=agent)  # the configuration says 30d
    row = _status(repo)
    assert row["review_every"] == "365d" and row["review_days_left"] == 265


def test_a_waiver_beyond_the_horizon_is_a_configuration_error_naming_it(repo: GitRepo) -> None:
    far = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    repo.write("agents/billing-cycle.yaml", BILLING)
    waiver = (
        "waivers:\n  - {rule: AP112, agent: billing-cycle, reason: r, owner: {name: N, email: n@x.org}, "
        f"expires: '{far}'}}\n"
    )
    repo.write(".agentpolicy.yaml", waiver)
    done = repo.ap("check", "agents")
    assert done.code == 2 and "waivers[0] (AP112 on billing-cycle, owner n@x.org)" in done.err
    assert "more than max_waiver_days (180)" in done.err
    repo.write(".agentpolicy.yaml", waiver + "max_waiver_days: 500\n")
    assert repo.ap("check", "agents").code == 0


def test_an_escaped_review_every_key_still_makes_check_warn(repo: GitRepo, keys: dict[str, Key]) -> None:
    """`"review_\\x65very"` is the key `review_every` to YAML but not to a byte search: the
    check's shortcut (no opt-in, no history walk) must not skip the overdue warning for it."""
    agent = BILLING.replace(
        "  approvals_required: 1\n", '  approvals_required: 1\n  "review_\\x65very": 30d\n'
    )
    _approved_long_ago(repo, keys, config="require_signatures: true\n", agent=agent)
    assert _status(repo)["review_every"] == "30d"
    repo.write("README.md", "unrelated\n")
    repo.stage()
    for _ in range(2):  # with no stored tree result, then with the one the first run stored
        code, found = check_findings(repo, "--staged")
        assert code == 0
        assert "AP212" in {f["rule"] for f in found}, found
