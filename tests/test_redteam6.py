"""Red team 6: evidence bundles, break-glass, re-attestation and runtime conformance under attack.

The attacker has commit access (entries, configurations, committer dates) or can write
the bundle and the runtime logs; the auditor trusts the bundle without trusting the tool.
"""

# ruff: noqa: F811  (the fixtures `bundle` and `history` are imported from the suites that build them)
from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import EXPANDED_BILLING, GitRepo, Key, approve, check_findings, guarded_repo
from tests.test_break_glass import ALLOW, _break_glass, _day, _events
from tests.test_conformance import event, findings_by_line, history, otlp_record  # noqa: F401 (fixture)
from tests.test_evidence import bundle, coreutils_only_path, verify  # noqa: F401 (fixture)
from tests.test_reattestation import _approved_long_ago, _commit_at, _status

# -- 1. evidence bundles ------------------------------------------------------------------------------


def _forged_statement(bundle: Path) -> Path:
    """A review statement claiming an approval of the unapproved 1.5.1, dropped into the bundle."""
    source = next(
        p for p in sorted((bundle / "statements").iterdir()) if p.name.endswith("-review.intoto.json")
    )
    statement = json.loads(source.read_text())
    statement["predicate"]["version"] = "1.5.1"
    forged = bundle / "statements" / "99999-review.intoto.json"
    forged.write_text(json.dumps(statement, indent=2))
    return forged


def test_attack_an_extra_statement_outside_the_manifest_fails_verify(bundle: Path, tmp_path: Path) -> None:
    path = coreutils_only_path(tmp_path / "bin")
    _forged_statement(bundle)
    done = verify(bundle, path)
    assert done.returncode == 1, done.stdout
    assert "FAIL  file statements/99999-review.intoto.json is not listed in manifest.json" in done.stdout


@pytest.mark.parametrize(
    "extra",
    ["statements/.hidden.json", ".profile", "statements/sub/x.json", "statements/a b.json", "notes.txt"],
)
def test_attack_hidden_nested_or_odd_extra_files_fail_verify(
    bundle: Path, tmp_path: Path, extra: str
) -> None:
    path = coreutils_only_path(tmp_path / "bin")
    (bundle / extra).parent.mkdir(parents=True, exist_ok=True)
    (bundle / extra).write_text("{}\n")
    done = verify(bundle, path)
    assert done.returncode == 1, done.stdout
    assert "is not listed in manifest.json" in done.stdout


def test_attack_a_manifest_rewritten_to_omit_a_statement_fails_verify(bundle: Path, tmp_path: Path) -> None:
    """Omitting an unapproved-change statement from the manifest (keeping the file) hides nothing."""
    path = coreutils_only_path(tmp_path / "bin")
    manifest = bundle / "manifest.json"
    lines = manifest.read_text().splitlines(keepends=True)
    victim = next(i for i, line in enumerate(lines) if "-unapproved.intoto.json" in line)
    name = lines[victim].split('"')[1]
    del lines[victim]
    manifest.write_text("".join(lines))
    done = verify(bundle, path)
    assert done.returncode == 1 and f"FAIL  file {name} is not listed in manifest.json" in done.stdout


def test_attack_a_newline_in_an_extra_name_cannot_pose_as_two_listed_files(
    bundle: Path, tmp_path: Path
) -> None:
    path = coreutils_only_path(tmp_path / "bin")
    names = sorted(p.name for p in (bundle / "statements").iterdir())
    (bundle / "statements" / f"{names[0]}\ncontrols.md").write_text("{}\n")  # two listed lines
    done = verify(bundle, path)
    assert done.returncode == 1, done.stdout
    assert "not listed in manifest.json" in done.stdout


def test_attack_swapped_signers_with_a_consistent_manifest_is_caught_only_by_the_pinned_digest(
    bundle: Path, tmp_path: Path, keys: dict[str, Key]
) -> None:
    """The attacker re-signs every payload with their key, swaps the signers files and rewrites the
    manifest: verify.sh cannot know. What catches it is the manifest digest pinned at hand-over, which
    verify.sh prints, and which docs/evidence.md tells the auditor to compare (and to check verify.sh
    against the pinned manifest before running it)."""
    import subprocess

    path = coreutils_only_path(tmp_path / "bin")
    pinned = hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()
    assert f"manifest.json sha256 {pinned}" in verify(bundle, path).stdout
    mallory = keys["mallory"]
    for signers in (bundle / "signers").glob("*.allowed_signers"):
        emails = {line.split()[0] for line in signers.read_text().splitlines() if line.strip()}
        signers.write_text("".join(f"{e} {mallory.public_text}\n" for e in sorted(emails)))
    for payload in (bundle / "entries").glob("*.payload"):
        sig = payload.with_suffix(".sig")
        sig.unlink()
        subprocess.run(
            [
                "ssh-keygen",
                "-Y",
                "sign",
                "-q",
                "-f",
                str(mallory.private),
                "-n",
                "agentpolicy-review",
                str(payload),
            ],
            check=True,
            capture_output=True,
        )
        Path(f"{payload}.sig").rename(sig)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"] = {
        name: hashlib.sha256((bundle / name).read_bytes()).hexdigest() for name in manifest["files"]
    }
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    done = verify(bundle, path)
    assert done.returncode == 0  # the documented limit: a rewritten bundle is self-consistent
    assert pinned not in done.stdout  # ... but its manifest digest is not the pinned one
    doc = (Path(__file__).parent.parent / "docs" / "evidence.md").read_text()
    assert "sha256 of `manifest.json`" in doc and "before you run it" in doc


# -- 2. break-glass -----------------------------------------------------------------------------------


def test_attack_break_glass_enabled_in_the_same_commit_is_unapproved_in_the_audit_too(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.write(".agentpolicy.yaml", ALLOW)
    other = GitRepo(repo.path.parent / "other", repo.home)
    guarded_repo(other, keys, config=ALLOW)
    other.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert _break_glass(other, keys["dev"]).code == 0
    for entry in (other.path / "reviews/billing-cycle/1.5.0").iterdir():
        repo.write(f"reviews/billing-cycle/1.5.0/{entry.name}", entry.read_bytes())
    repo.commit("allow break-glass and use it at once")
    billing = [e for e in _events(repo) if e["agent"] == "billing-cycle"][-1]
    assert billing["approved"] is False and billing["approved_via"] != "break-glass"
    assert json.loads(repo.ap("status", "--format", "json").out)["agents"][0]["approved"] is False


def test_attack_the_author_follows_up_their_own_break_glass_and_strict_still_fails(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys, config=ALLOW)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert _break_glass(repo, keys["dev"]).code == 0
    repo.commit("emergency")
    assert approve(repo, keys["dev"]).code == 0  # a regular approval by the change's author
    repo.commit("my own follow-up")
    event = [e for e in _events(repo) if e["agent"] == "billing-cycle"][-1]
    assert event["approved_via"] == "break-glass" and event["followed_up_in"] is None
    assert repo.ap("audit", "--strict", "--format", "json", "--as-of", _day(5)).code == 1


def test_attack_a_break_glass_entry_cannot_reset_the_re_attestation_clock(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    _approved_long_ago(repo, keys, config="review_every: 30d\n" + ALLOW)
    key = keys["rev2"]
    done = repo.ap(
        "approve", "billing-cycle", "--reviewer", f"Rev <{key.email}>", "--key", str(key.private),
        "--break-glass", "--reason", "INC-1",
    )  # fmt: skip
    assert done.code == 0, done.text
    _commit_at(repo, dt.datetime.now(dt.UTC), "re-attest with a break-glass entry")
    assert _status(repo)["review_overdue"] is True


# -- 3. re-attestation --------------------------------------------------------------------------------


def test_attack_a_copied_entry_does_not_restart_the_clock(repo: GitRepo, keys: dict[str, Key]) -> None:
    _approved_long_ago(repo, keys)
    folder = repo.path / "reviews/billing-cycle/1.4.0"
    (entry,) = list(folder.iterdir())
    shutil.copy(entry, folder / f"copy-{entry.name}")
    _commit_at(repo, dt.datetime.now(dt.UTC), "re-attest by copying")
    assert _status(repo)["review_overdue"] is True
    assert repo.ap("status", "--strict", "--format", "json").code == 1


def test_attack_a_future_committer_date_does_not_push_the_review_out(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """The re-approval is real, but committed with a date years ahead: it counts from its signed time."""
    _approved_long_ago(repo, keys)
    assert approve(repo, keys["rev2"]).code == 0
    _commit_at(repo, dt.datetime.now(dt.UTC) + dt.timedelta(days=3650), "re-attest from the future")
    row = _status(repo)
    assert row["review_days_left"] is not None and row["review_days_left"] <= 30


# -- 4. runtime conformance ----------------------------------------------------------------------------


def test_attack_a_duplicate_key_in_a_json_line_is_malformed_not_the_last_value(history: GitRepo) -> None:
    """{"action": refused, "action": allowed}: another reader takes the first, json.loads the last."""
    line = (
        '{"time": "2030-02-15T00:00:00Z", "agent": "billing-cycle", '
        '"action": "refund-payment", "action": "send-notifications"}'
    )
    history.write("dup.jsonl", line + "\n")
    code, found, report = findings_by_line(history, "dup.jsonl")
    assert code == 1 and found == {1: ["AP500"]}
    assert "`action` is given twice" in report["findings"][0]["message"]


def test_attack_an_otlp_attribute_given_twice_is_malformed(history: GitRepo) -> None:
    record = otlp_record([event("2030-02-15T00:00:00Z", "refund-payment")])
    tool = record["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["attributes"]
    tool.append({"key": "gen_ai.tool.name", "value": {"stringValue": "send-notifications"}})
    history.write("dup-otlp.jsonl", json.dumps(record) + "\n")
    code, found, report = findings_by_line(history, "dup-otlp.jsonl")
    assert code == 1 and found == {1: ["AP500"]}
    assert "gen_ai.tool.name" in report["findings"][0]["message"]


@pytest.mark.parametrize(
    "agent",
    [
        "Billing-Cycle",
        "billing-cycle ",
        "\u0062illing\u2010cycle",
        "billing-cycl\u0065\u0301",
        "\uff42illing-cycle",
    ],
)
def test_attack_an_agent_name_that_only_looks_the_same_is_unknown(history: GitRepo, agent: str) -> None:
    history.write(
        "alias.jsonl", json.dumps(event("2030-02-15T00:00:00Z", "refund-payment", agent=agent)) + "\n"
    )
    code, found, _ = findings_by_line(history, "alias.jsonl")
    assert code == 1 and found == {1: ["AP506"]}


@pytest.mark.parametrize(
    ("time", "rules"),
    [
        ("2030-01-31T23:59:60Z", ["AP500"]),  # a leap second: not a time Python reads, refused
        ("2030-01-31T23:59:59.999999Z", ["AP503"]),  # the last instant before the expansion
        ("2030-02-01T00:00:00+00:00", []),  # at the commit: the expansion is in force
        ("2030-01-31T19:00:00-05:00", []),  # the same instant in another zone
        ("2030-02-01T04:59:59+05:00", ["AP503"]),  # 23:59:59Z the day before
        ("2030-02-01T00:00:00", ["AP500"]),  # no zone
    ],
)
def test_attack_odd_times_are_judged_at_their_instant(history: GitRepo, time: str, rules: list[str]) -> None:
    history.write("times.jsonl", json.dumps(event(time, "submit-to-client-portal")) + "\n")
    _code, found, _ = findings_by_line(history, "times.jsonl")
    assert found.get(1, []) == rules


def test_attack_break_glass_is_checked_by_check_before_commit_too(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """The same-commit enabling, at the pre-commit hook: refused with AP211 as an error."""
    guarded_repo(repo, keys)
    repo.write(".agentpolicy.yaml", ALLOW)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert _break_glass(repo, keys["dev"]).code == 2  # approve refuses: HEAD does not allow it
    code, _found = check_findings(repo)
    assert code == 1
