"""Configuration paths, switched-off gate rules, bad dates and writing through links (issue 13:
attacks 15, 19, 20, 22, 23). Each test is named after the attack it refuses."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from agentpolicy.model.document import ERROR, Finding
from agentpolicy.rules.config import Config
from agentpolicy.rules.config_values import Waiver
from agentpolicy.rules.engine import apply_overrides
from tests.helpers import BILLING, EXPANDED_BILLING, GitRepo, Key, approve, guarded_repo

SPELLINGS = {
    "canonical": lambda path: path,
    "dot-slash": lambda path: f"./{path}",
    "trailing-slash": lambda path: f"{path}/",
    "double-slash": lambda path: path.replace("/", "//"),
    "dot-segment": lambda path: path.replace("/", "/./"),
}

TWO_APPROVALS = "approvals:\n  - when: true\n    approvals_required: 2\n"
ONE_APPROVAL = "approvals:\n  - when: true\n    approvals_required: 1\n"


def rule_ids(done_out: str) -> list[str]:
    return sorted({finding["rule"] for finding in json.loads(done_out)["findings"]})


def assert_usage_error(done: object, *needles: str) -> None:
    code, text = done.code, done.text  # type: ignore[attr-defined]
    assert code == 2, text
    assert "internal error" not in text and "Traceback" not in text, text
    assert "fix:" in text, text
    for needle in needles:
        assert needle in text, text


# --- 19: two spellings of one path -------------------------------------------------------------


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_attack_pack_folder_spelled_another_way_cannot_lower_gate_policy_unapproved(
    repo: GitRepo, keys: dict[str, Key], spelling: str
) -> None:
    """The trust root hashed `./packs/acme` (nothing) while the loader read `packs/acme`."""
    repo.write("packs/acme/pack.yaml", TWO_APPROVALS)
    config = f"policy: ['{SPELLINGS[spelling]('packs/acme')}']\n"
    guarded_repo(repo, keys, "rev", "rev2", config=config)
    repo.git("checkout", "-q", "-b", "lower")
    repo.write("packs/acme/pack.yaml", ONE_APPROVAL)
    repo.commit("one approval is enough")
    done = repo.ap("check", "--base", "main", "--format", "json")
    assert done.code == 1, done.text
    assert "AP220" in rule_ids(done.out)


@pytest.mark.parametrize("spelling", sorted(set(SPELLINGS) - {"trailing-slash"}))
def test_attack_revoked_signers_file_spelled_another_way_still_revokes(
    repo: GitRepo, keys: dict[str, Key], spelling: str
) -> None:
    """A tree lookup of `./.agentpolicy/revoked` found nothing, so a revoked key counted again."""
    repo.write(".agentpolicy/revoked", keys["rev2"].public_text + "\n")
    config = f"revoked_signers: '{SPELLINGS[spelling]('.agentpolicy/revoked')}'\n"
    guarded_repo(repo, keys, "rev", "rev2", config=config)
    repo.git("checkout", "-q", "-b", "expand")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev2"]).code == 0
    repo.commit("expand, approved by a revoked key")
    done = repo.ap("check", "--base", "main", "--format", "json")
    assert done.code == 1, done.text
    assert {"AP201", "AP304"} <= set(rule_ids(done.out))


def _team_repo(repo: GitRepo, keys: dict[str, Key], spell: object) -> list[str]:
    """Every documented path key spelled with ``spell``; a change approved once by an allowed
    key and once by a revoked key, under a pack that wants two approvals."""
    path = spell  # type: ignore[assignment]
    repo.write("team/signers/allowed", keys["rev"].signer_line() + "\n" + keys["rev2"].signer_line() + "\n")
    repo.write("team/signers/revoked", keys["rev2"].public_text + "\n")
    repo.write("team/packs/acme/pack.yaml", TWO_APPROVALS)
    repo.write(
        ".agentpolicy.yaml",
        f"agents: ['{path('team/agents/**/*.yaml')}']\n"
        f"reviews: '{path('team/reviews')}'\n"
        f"allowed_signers: '{path('team/signers/allowed')}'\n"
        f"revoked_signers: '{path('team/signers/revoked')}'\n"
        f"policy: ['{path('team/packs/acme')}']\n",
    )
    repo.write("team/agents/billing-cycle.yaml", BILLING)
    repo.commit("guarded")
    repo.git("checkout", "-q", "-b", "expand")
    repo.write("team/agents/billing-cycle.yaml", EXPANDED_BILLING)
    for name in ("rev", "rev2"):
        done = approve(repo, keys[name])
        assert done.code == 0, done.text
    entries = sorted(str(p.relative_to(repo.path)) for p in (repo.path / "team" / "reviews").rglob("*.yaml"))
    repo.commit("expand")
    done = repo.ap("check", "--base", "main", "--format", "json")
    assert done.code in (0, 1), done.text
    return [*rule_ids(done.out), *(f"entry at {entry.split('/')[1]}/" for entry in entries)]


def test_every_path_key_gives_the_same_verdict_however_it_is_spelled(
    tmp_path: Path, home: Path, keys: dict[str, Key]
) -> None:
    verdicts = {
        name: _team_repo(GitRepo(tmp_path / name, home), keys, spell) for name, spell in SPELLINGS.items()
    }
    assert {"AP201", "AP304"} <= set(verdicts["canonical"])
    assert "entry at reviews/" in verdicts["canonical"]
    for name, verdict in verdicts.items():
        assert verdict == verdicts["canonical"], name


# --- 15: paths outside the repository ----------------------------------------------------------

OUTSIDE_SPELLINGS = [
    "../../outside",
    "reviews/../../outside",
    "OUTSIDE_ABSOLUTE",
    "C:/outside",
    "..\\\\..\\\\outside",
    ".git/hooks",
    "./.GIT/hooks",
    "rev\\u0000iews",
    "rev\\niews",
    "./",
]


@pytest.mark.parametrize("value", OUTSIDE_SPELLINGS)
def test_attack_reviews_folder_outside_the_repository_is_refused_before_approve_writes(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path, value: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    guarded_repo(repo, keys, "rev", "rev2")
    value = value.replace("OUTSIDE_ABSOLUTE", str(outside))
    repo.write(".agentpolicy.yaml", f'require_signatures: true\nreviews: "{value}"\n')
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    done = approve(repo, keys["rev2"])
    assert_usage_error(done, ".agentpolicy.yaml:2:", "`reviews`")
    assert list(outside.rglob("*")) == []
    assert not (repo.path / ".git" / "hooks" / "billing-cycle").exists()


@pytest.mark.parametrize("key", ["agents", "allowed_signers", "revoked_signers", "policy"])
def test_attack_every_configured_path_outside_the_repository_is_refused(
    repo: GitRepo, tmp_path: Path, key: str
) -> None:
    repo.write("agents/billing-cycle.yaml", BILLING)
    for value in (
        "../elsewhere",
        str(tmp_path / "elsewhere"),
        "x/../../y",
        "a\\\\b",
        ".git/config",
        "a\\u0007",
    ):
        text = f'"{value}"' if key not in ("agents", "policy") else f'["{value}"]'
        repo.write(".agentpolicy.yaml", f"teams: []\n{key}: {text}\n")
        assert_usage_error(repo.ap("check"), ".agentpolicy.yaml:2:", f"`{key}")


# --- 23: writing through symbolic links --------------------------------------------------------


def test_attack_approve_through_a_symlinked_reviews_folder_is_refused(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    guarded_repo(repo, keys, "rev", "rev2")
    (repo.path / "reviews").rename(tmp_path / "old-reviews")
    (repo.path / "reviews").symlink_to(outside)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    done = approve(repo, keys["rev2"])
    assert_usage_error(done, "reviews is a symbolic link")
    assert list(outside.rglob("*")) == []


def test_attack_approve_through_a_symlinked_agent_folder_under_reviews_is_refused(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    guarded_repo(repo, keys, "rev", "rev2")
    (repo.path / "reviews" / "billing-cycle").rename(tmp_path / "old-entries")
    (repo.path / "reviews" / "billing-cycle").symlink_to(outside)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    done = approve(repo, keys["rev2"])
    assert_usage_error(done, "reviews/billing-cycle is a symbolic link")
    assert list(outside.rglob("*")) == []


def test_attack_new_through_a_symlinked_agents_folder_is_refused(repo: GitRepo, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo.path / "agents").symlink_to(outside)
    done = repo.ap("new", "invoice-triage")
    assert_usage_error(done, "agents is a symbolic link")
    assert list(outside.rglob("*")) == []


def test_attack_new_with_a_path_outside_the_repository_is_refused(repo: GitRepo, tmp_path: Path) -> None:
    done = repo.ap("new", "invoice-triage", "--path", "../invoice-triage.yaml")
    assert_usage_error(done, "leaves the repository")
    assert not (tmp_path / "invoice-triage.yaml").exists()
    inside = repo.ap("new", "invoice-triage", "--path", str(repo.path / "bots" / "invoice-triage.yaml"))
    assert inside.code == 0, inside.text
    assert (repo.path / "bots" / "invoice-triage.yaml").is_file()


def test_attack_init_through_a_symlinked_agentpolicy_folder_is_refused_and_writes_nothing(
    repo: GitRepo, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo.path / ".agentpolicy").symlink_to(outside)
    for args in (["init", "--dry-run"], ["init"]):
        done = repo.ap(*args)
        assert_usage_error(done, ".agentpolicy is a symbolic link")
    assert list(outside.rglob("*")) == []
    assert sorted(p.name for p in repo.path.iterdir()) == [".agentpolicy", ".git"]


@pytest.mark.parametrize("folder", ["agents", "reviews"])
def test_attack_init_with_a_symlinked_agents_or_reviews_folder_is_refused(
    repo: GitRepo, tmp_path: Path, folder: str
) -> None:
    (tmp_path / "outside").mkdir()
    (repo.path / folder).symlink_to(tmp_path / "outside")
    assert_usage_error(repo.ap("init"), f"{folder} is a symbolic link")
    assert not (repo.path / ".agentpolicy.yaml").exists()


def test_attack_init_never_rewrites_a_symlinked_pre_commit_config(repo: GitRepo, tmp_path: Path) -> None:
    shared = tmp_path / "shared-pre-commit.yaml"
    shared.write_text("repos:\n  - repo: local\n    hooks: []\n")
    (repo.path / ".pre-commit-config.yaml").symlink_to(shared)
    assert_usage_error(repo.ap("init"), ".pre-commit-config.yaml is a symbolic link")
    assert shared.read_text() == "repos:\n  - repo: local\n    hooks: []\n"
    assert (repo.path / ".pre-commit-config.yaml").is_symlink()


@pytest.mark.parametrize(
    "args",
    [["init"], ["new", "invoice-triage"], ["approve", "billing-cycle", "--reviewer", "R <r@example.com>"]],
)
def test_a_dangling_config_symlink_is_a_usage_error_not_a_crash(repo: GitRepo, args: list[str]) -> None:
    repo.write("agents/billing-cycle.yaml", BILLING)
    (repo.path / ".agentpolicy.yaml").symlink_to("../nowhere.yaml")
    assert_usage_error(repo.ap(*args), ".agentpolicy.yaml is a symbolic link")
    assert not (repo.path / "agents" / "invoice-triage.yaml").exists()


def test_attack_config_symlink_to_a_file_outside_is_not_followed(repo: GitRepo, tmp_path: Path) -> None:
    elsewhere = tmp_path / "config.yaml"
    elsewhere.write_text("agents: ['elsewhere/**/*.yaml']\n")
    (repo.path / ".agentpolicy.yaml").symlink_to(elsewhere)
    assert_usage_error(repo.ap("new", "invoice-triage"), ".agentpolicy.yaml is a symbolic link")
    assert not (repo.path / "elsewhere").exists()


# --- 20: gate rules switched off by configuration ----------------------------------------------


@pytest.mark.parametrize(
    "override",
    [
        "AP201: 'off'",
        "AP205: 'off'",
        "AP220: warning",
        "AP210: 'off'",
        "AP301: 'off'",
        "AP308: warning",
        "AP207: 'off'",
        "AP299: 'off'",
        "AP001: 'off'",
        "AP002: warning",
        "AP140: 'off'",
    ],
)
def test_attack_rules_switching_off_or_downgrading_a_gate_rule_is_refused(
    repo: GitRepo, override: str
) -> None:
    repo.write("agents/billing-cycle.yaml", BILLING)
    repo.write(".agentpolicy.yaml", f"teams: []\nrules:\n  AP112: warning\n  {override}\n")
    rule = override.split(":")[0]
    assert_usage_error(repo.ap("check"), ".agentpolicy.yaml:4:", f"`rules.{rule}", "cannot be switched off")


def test_gate_rules_may_be_kept_or_raised_and_policy_rules_switched_off(repo: GitRepo) -> None:
    repo.write("agents/billing-cycle.yaml", BILLING)
    repo.write(".agentpolicy.yaml", "rules: {AP201: error, AP207: error, AP112: 'off'}\n")
    repo.commit("policy rules tuned")
    done = repo.ap("check")
    assert done.code == 0, done.text


def test_attack_landed_config_switching_off_the_gate_does_not_pass_an_unreviewed_change(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    """The config was pushed past the PR check; the next change must still not pass."""
    repo.write(".agentpolicy/allowed_signers", keys["rev"].signer_line() + "\n")
    repo.write(".agentpolicy.yaml", "rules: {AP201: 'off', AP205: 'off', AP220: 'off'}\n")
    repo.write("agents/billing-cycle.yaml", BILLING)
    repo.commit("pushed straight to main")
    repo.git("checkout", "-q", "-b", "expand")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.commit("expand, unreviewed")
    done = repo.ap("check", "--base", "main")
    assert_usage_error(done, "rules.AP201")


def test_apply_overrides_never_drops_or_weakens_a_gate_finding() -> None:
    """Defence in depth: a Config built past load_config still cannot silence the gate."""
    config = Config(
        rules={"AP201": "off", "AP308": "warning", "AP112": "off", "AP113": "warning"},
        waivers=(Waiver("AP205", "billing-cycle", "r", "o <o@x>", dt.date(2999, 1, 1)),),
    )
    findings = [
        Finding("a.yaml", 1, 1, rule, ERROR, "m", agent="billing-cycle")
        for rule in ("AP201", "AP205", "AP308", "AP112", "AP113")
    ]
    kept = {f.rule: f for f in apply_overrides(findings, config)}
    assert sorted(kept) == ["AP113", "AP201", "AP205", "AP308"]
    assert [kept[rule].severity for rule in ("AP201", "AP205", "AP308")] == [ERROR] * 3
    assert not kept["AP205"].waived
    assert kept["AP113"].severity == "warning"


@pytest.mark.parametrize("rule", ["AP140", "AP001", "AP250"])
def test_attack_waiver_on_a_gate_or_integrity_rule_is_refused(repo: GitRepo, rule: str) -> None:
    repo.write("agents/billing-cycle.yaml", BILLING)
    repo.write(
        ".agentpolicy.yaml",
        "waivers:\n"
        f"  - {{rule: {rule}, agent: billing-cycle, reason: r, owner: {{name: N, email: n@x.org}}, "
        "expires: '2999-01-01'}\n",
    )
    assert_usage_error(repo.ap("check"), ".agentpolicy.yaml:2:", "cannot be waived")


def test_attack_pack_defining_a_gate_rule_id_is_refused(repo: GitRepo) -> None:
    repo.write("agents/billing-cycle.yaml", BILLING)
    repo.write(
        "packs/acme/rules/gate.yaml",
        "id: AP250\nname: fake-gate\nseverity: warning\nmessage: m\nhint: h\nrequire: {required: [owner]}\n",
    )
    repo.write(".agentpolicy.yaml", "policy: [packs/acme]\n")
    assert_usage_error(repo.ap("check"), "AP250", "reserved")


@pytest.mark.parametrize(
    ("file", "text"),
    [
        ("pack.yaml", "approvals:\n  - when: {type: 5}\n    approvals_required: 2\n"),
        (
            "pack.yaml",
            "approvals:\n  - when: {properties: {name: {pattern: '('}}}\n    approvals_required: 2\n",
        ),
        ("pack.yaml", "approvals:\n  - when: true\n    approvals_required: 2.0\n"),
        ("rules/x.yaml", "id: ACME1\nname: x\nseverity: error\nmessage: m\nhint: h\nrequire: {type: 5}\n"),
    ],
)
def test_a_broken_pack_is_a_configuration_error_not_a_crash(repo: GitRepo, file: str, text: str) -> None:
    repo.write("agents/billing-cycle.yaml", BILLING)
    repo.write(f"packs/acme/{file}", text)
    repo.write(".agentpolicy.yaml", "policy: [packs/acme]\n")
    assert_usage_error(repo.ap("check"), "packs/acme")


# --- 22: values that pass the schema and crash later -------------------------------------------

WAIVER = (
    "waivers:\n  - rule: AP112\n    agent: billing-cycle\n    reason: Pager moves in Q1.\n"
    "    owner: {name: Anna Nowak, email: anna@example.com}\n    expires: EXPIRES\n"
)


@pytest.mark.parametrize(
    "expires",
    ['"2027-02-30"', '"2027-02-28\\n"', '"0000-01-01"', '"2027-2-28"', '"\\u0662027-02-28"', '"20270228"'],
)
def test_attack_impossible_waiver_date_is_a_configuration_error_not_a_crash(
    repo: GitRepo, expires: str
) -> None:
    repo.write("agents/billing-cycle.yaml", BILLING)
    repo.write(".agentpolicy.yaml", WAIVER.replace("EXPIRES", expires))
    assert_usage_error(repo.ap("check"), ".agentpolicy.yaml:6:", "expires")


def test_attack_bad_waiver_date_in_history_does_not_crash_the_audit(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys, "rev", "rev2")
    repo.write(".agentpolicy.yaml", WAIVER.replace("EXPIRES", '"2027-02-30"'))
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    repo.commit("bad date, and an unreviewed change beside it")
    done = repo.ap("audit", "--strict")
    assert done.code in (1, 2), done.text
    assert "internal error" not in done.text
    assert "2027-02-30" in done.text


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ("autonomy_expansion_approvals: 2.0\n", "autonomy_expansion_approvals"),
        ("autonomy_expansion_approvals: true\n", "autonomy_expansion_approvals"),
        ("autonomy_expansion_approvals: '2'\n", "autonomy_expansion_approvals"),
        ('rules: {"AP112\\n": warning}\n', "rules"),
        ('teams: ["ops\\u0007"]\n', "teams[0]"),
        (
            'waivers:\n  - {rule: AP112, agent: b, reason: r, owner: {name: n, email: "n@x.org\\n"}, expires: 2027-01-01}\n',
            "email",
        ),
        ("rules: {AP112: off}\n", "quote it"),
    ],
)
def test_attack_odd_types_and_hidden_characters_in_config_are_refused(
    repo: GitRepo, config: str, needle: str
) -> None:
    repo.write("agents/billing-cycle.yaml", BILLING)
    repo.write(".agentpolicy.yaml", config)
    assert_usage_error(repo.ap("check"), needle)


def test_a_waiver_reason_may_span_lines(repo: GitRepo) -> None:
    repo.write("agents/billing-cycle.yaml", BILLING)
    repo.write(
        ".agentpolicy.yaml",
        WAIVER.replace("reason: Pager moves in Q1.", "reason: |\n      Pager moves\n      in Q1.").replace(
            "EXPIRES", (dt.date.today() + dt.timedelta(days=90)).isoformat()
        ),
    )
    repo.commit("waiver")
    done = repo.ap("check")
    assert done.code == 0, done.text


def test_written_review_entry_is_a_plain_file_inside_the_repository(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys, "rev", "rev2")
    entries = list((repo.path / "reviews").rglob("*.yaml"))
    assert len(entries) == 1
    assert not any(p.is_symlink() for p in entries)
    assert not [p for p in (repo.path / "reviews").rglob(".agentpolicy-*")]
    assert os.path.realpath(entries[0]).startswith(os.path.realpath(repo.path))
