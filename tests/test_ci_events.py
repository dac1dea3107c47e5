"""`check --ci` for every event a workflow gets, and what it does when it must stop (issue 14).

Every test runs the real `agentpolicy check --ci` in a real clone of a real
`origin` (as actions/checkout with fetch-depth: 0 or GitLab with GIT_DEPTH: 0
makes it), with the CI's variables in the environment and the event payload in
a file. The environment and the payload are hostile input: a value that is not
what the CI would send stops the check (exit 2, naming the variable); it never
widens or narrows the range to something that passes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import (
    AGENTPOLICY,
    BILLING,
    EXPANDED_BILLING,
    GitRepo,
    Key,
    Run,
    clean_env,
    guarded_repo,
    run,
)

ZERO = "0" * 40
ERROR_LINE = "::error title=agentpolicy::"


# -- builders ------------------------------------------------------------------


def clone(source: str, path: Path, home: Path, *args: str) -> GitRepo:
    """A real `git clone` of origin (it records refs/remotes/origin/HEAD, as a CI checkout does)."""
    run(["git", "clone", "-q", *args, source, str(path)], path.parent, clean_env(home), check=True)
    return clone_at(path, home)


def clone_at(path: Path, home: Path) -> GitRepo:
    """An existing clone, driven like GitRepo (without GitRepo's `git init`)."""
    checkout = GitRepo.__new__(GitRepo)
    checkout.path, checkout.home, checkout.env = path, home, clean_env(home)
    return checkout


@dataclass
class World:
    """`origin` with main (an approved agent) and feature (an unapproved autonomy expansion)."""

    root: Path
    dev: GitRepo
    origin: Path
    main: str
    feature: str

    def checkout(self, name: str, branch: str = "main", *args: str) -> GitRepo:
        """A clone of origin with BRANCH checked out (made once per NAME); ARGS go to `git clone`
        (a shallow clone needs the file:// form: git ignores --depth in a local clone)."""
        path = self.root / name
        if path.exists():
            return clone_at(path, self.dev.home)
        source = f"file://{self.origin}" if "--depth" in args else str(self.origin)
        checkout = clone(source, path, self.dev.home, *args)
        if branch != "main":
            checkout.git("checkout", "-q", branch)
        return checkout


def build_world(root: Path, keys: dict[str, Key]) -> World:
    home = root / "home"
    home.mkdir(parents=True)
    dev = GitRepo(root / "dev", home)
    guarded_repo(dev, keys)
    origin = root / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], root, dev.env, check=True)
    dev.git("remote", "add", "origin", str(origin))
    dev.git("push", "-q", "origin", "main")
    main = dev.git("rev-parse", "HEAD").strip()
    dev.git("checkout", "-q", "-b", "feature")
    dev.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    feature = dev.commit("expand autonomy without a review")
    dev.git("push", "-q", "origin", "feature")
    dev.git("checkout", "-q", "main")
    return World(root, dev, origin, main, feature)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Key]) -> World:
    """Shared by the tests that only run checks (none of them changes a repository)."""
    return build_world(tmp_path_factory.mktemp("world"), keys)


@pytest.fixture
def fresh(tmp_path: Path, keys: dict[str, Key]) -> World:
    """A world of its own, for tests that change it."""
    return build_world(tmp_path / "world", keys)


def ci_env(checkout: GitRepo, **variables: str) -> dict[str, str]:
    """The checkout's environment without the CI variables of the machine running the tests."""
    env = {k: v for k, v in checkout.env.items() if not k.startswith(("GITHUB_", "GITLAB_", "CI_", "CI"))}
    env.update(variables)
    return env


_events = iter(range(1_000_000))


def github(
    checkout: GitRepo,
    tmp: Path,
    event: str,
    payload: dict[str, object] | None = None,
    **variables: str,
) -> dict[str, str]:
    """GitHub Actions' variables for EVENT, with PAYLOAD written to GITHUB_EVENT_PATH."""
    env = ci_env(checkout, GITHUB_ACTIONS="true", GITHUB_EVENT_NAME=event, GITHUB_BASE_REF="")
    if payload is not None:
        path = tmp / f"event-{next(_events)}.json"
        path.write_text(json.dumps(payload))
        env["GITHUB_EVENT_PATH"] = str(path)
    env.update(variables)
    return env


def gitlab(checkout: GitRepo, **variables: str) -> dict[str, str]:
    return ci_env(checkout, GITLAB_CI="true", **variables)


def repository(default: str = "main") -> dict[str, object]:
    return {"repository": {"default_branch": default}}


def ci_json(checkout: GitRepo, env: dict[str, str]) -> tuple[int, dict]:
    done = checkout.ap("check", "--ci", "--format", "json", env=env)
    assert done.code in (0, 1), done.text
    return done.code, json.loads(done.out)


def range_note(report: dict) -> str:
    notes = [note for note in report["notes"] if note.startswith("--ci: ")]
    assert len(notes) == 1, report["notes"]
    assert "\n" not in notes[0]
    return notes[0]


def refused(done: Run, *names: str) -> None:
    """Exit 2, naming each of NAMES, with a fix; never a traceback."""
    assert done.code == 2, done.text
    for name in names:
        assert name in done.err, (name, done.err)
    assert "fix: " in done.err
    assert "Traceback" not in done.text


# -- GitHub: every event gets a range --------------------------------------------


@pytest.mark.parametrize("event", ["pull_request", "pull_request_target"])
def test_github_pull_request_is_judged_against_its_target_branch(
    world: World, tmp_path: Path, event: str
) -> None:
    ci = world.checkout("ci-feature", "feature")
    code, report = ci_json(ci, github(ci, tmp_path, event, repository(), GITHUB_BASE_REF="main"))
    assert code == 1
    assert [c["agent"] for c in report["changes"]] == ["billing-cycle"]
    note = range_note(report)
    assert f"GitHub {event}" in note and "refs/remotes/origin/main" in note
    assert f"{world.main[:12]}..{world.feature[:12]}" in note


def test_github_pull_request_review_takes_the_target_from_the_payload(world: World, tmp_path: Path) -> None:
    ci = world.checkout("ci-feature", "feature")
    payload = {**repository(), "pull_request": {"base": {"ref": "main"}}}
    code, report = ci_json(ci, github(ci, tmp_path, "pull_request_review", payload))
    assert code == 1
    assert "refs/remotes/origin/main" in range_note(report)


def test_github_push_of_a_new_branch_is_judged_against_the_default_branch(
    world: World, tmp_path: Path
) -> None:
    ci = world.checkout("ci-feature", "feature")
    payload = {
        **repository(),
        "before": ZERO,
        "after": world.feature,
        "created": True,
        "ref": "refs/heads/feature",
    }
    env = github(ci, tmp_path, "push", payload, GITHUB_REF="refs/heads/feature")
    code, report = ci_json(ci, env)
    assert code == 1, report
    note = range_note(report)
    assert "GitHub push" in note and "refs/remotes/origin/main" in note
    assert f"{world.main[:12]}..{world.feature[:12]}" in note


def test_github_push_to_the_default_branch_uses_its_before(fresh: World, tmp_path: Path) -> None:
    fresh.dev.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    after = fresh.dev.commit("expand on main without a review")
    fresh.dev.git("push", "-q", "origin", "main")
    ci = fresh.checkout("ci-main")
    payload = {**repository(), "before": fresh.main, "after": after, "created": False}
    code, report = ci_json(ci, github(ci, tmp_path, "push", payload, GITHUB_REF="refs/heads/main"))
    assert code == 1
    note = range_note(report)
    assert "`before`" in note and f"{fresh.main[:12]}..{after[:12]}" in note


def test_github_first_push_of_the_default_branch_is_a_whole_tree_policy_check(
    fresh: World, tmp_path: Path
) -> None:
    ci = fresh.checkout("ci-main")
    payload = {**repository(), "before": ZERO, "after": fresh.main, "created": True}
    env = github(ci, tmp_path, "push", payload, GITHUB_REF="refs/heads/main")
    code, report = ci_json(ci, env)
    assert code == 0, report
    assert report["summary"]["files_checked"] == 1 and report["changes"] == []
    note = range_note(report)
    assert "whole-tree policy check" in note and "all zeros" in note and "audit" in note
    # the policy still runs on every agent of the tree: a broken one fails the check
    fresh.dev.write(
        "agents/broken.yaml",
        BILLING.replace("name: billing-cycle", "name: broken").replace("owner:", "ownr:"),
    )
    fresh.dev.commit("a broken agent")
    fresh.dev.git("push", "-q", "origin", "main")
    ci.git("pull", "-q", "origin", "main")
    done = ci.ap("check", "--ci", "--format", "text", env=env)
    assert done.code == 1, done.text
    assert "agents/broken.yaml" in done.out
    assert done.out.startswith("note: --ci: GitHub push")


def test_attack_github_zero_before_on_a_push_that_did_not_create_the_branch_is_refused(
    world: World, tmp_path: Path
) -> None:
    ci = world.checkout("ci-main")
    payload = {**repository(), "before": ZERO, "created": False}
    refused(
        ci.ap("check", "--ci", env=github(ci, tmp_path, "push", payload, GITHUB_REF="refs/heads/main")),
        "before",
    )


@pytest.mark.parametrize(
    "event",
    ["workflow_dispatch", "schedule", "release", "workflow_run", "repository_dispatch", "a_future_event", ""],
)
def test_github_other_events_on_the_default_branch_are_a_whole_tree_policy_check(
    world: World, tmp_path: Path, event: str
) -> None:
    ci = world.checkout("ci-main")
    env = github(ci, tmp_path, event, repository(), GITHUB_REF="refs/heads/main")
    code, report = ci_json(ci, env)
    assert code == 0, report
    note = range_note(report)
    assert "whole-tree policy check" in note and "refs/remotes/origin/main" in note
    assert f"GitHub {event or 'run'}" in note


@pytest.mark.parametrize("event", ["workflow_dispatch", "schedule", "release", "a_future_event"])
def test_github_other_events_on_a_branch_are_judged_against_the_default_branch(
    world: World, tmp_path: Path, event: str
) -> None:
    ci = world.checkout("ci-feature", "feature")
    env = github(ci, tmp_path, event, repository(), GITHUB_REF="refs/heads/feature")
    code, report = ci_json(ci, env)
    assert code == 1, report
    assert f"{world.main[:12]}..{world.feature[:12]}" in range_note(report)


def test_github_tag_push_of_a_default_branch_commit_is_a_whole_tree_policy_check(
    fresh: World, tmp_path: Path
) -> None:
    fresh.dev.git("tag", "v1.0.0", "main")
    fresh.dev.git("push", "-q", "origin", "v1.0.0")
    ci = fresh.checkout("ci-tag")
    ci.git("checkout", "-q", "v1.0.0")
    payload = {**repository(), "before": ZERO, "created": True, "ref": "refs/tags/v1.0.0"}
    code, report = ci_json(ci, github(ci, tmp_path, "push", payload, GITHUB_REF="refs/tags/v1.0.0"))
    assert code == 0, report
    assert "whole-tree policy check" in range_note(report)


def test_github_default_branch_is_found_without_the_payload(fresh: World, tmp_path: Path) -> None:
    """No repository.default_branch: refs/remotes/origin/HEAD (a clone records it), else main/master."""
    for branch in ("trunk", "master"):
        fresh.dev.git("push", "-q", "origin", f"main:{branch}")
    run(["git", "symbolic-ref", "HEAD", "refs/heads/trunk"], fresh.origin, fresh.dev.env, check=True)
    ci = fresh.checkout("ci-feature", "feature")
    code, report = ci_json(ci, github(ci, tmp_path, "schedule", {}, GITHUB_REF="refs/heads/feature"))
    assert code == 1
    assert "refs/remotes/origin/trunk" in range_note(report)
    ci.git("remote", "set-head", "origin", "--delete")
    done = ci.ap("check", "--ci", env=github(ci, tmp_path, "schedule", {}))
    refused(done, "main", "master", "set-head")  # trunk unknown now, and both main and master exist
    ci.git("update-ref", "-d", "refs/remotes/origin/master")
    code, report = ci_json(ci, github(ci, tmp_path, "schedule", {}))
    assert code == 1
    assert "refs/remotes/origin/main" in range_note(report)


def merge_group_world(fresh: World) -> tuple[GitRepo, str]:
    """A merge-queue checkout: the group's commit on gh-readonly-queue/main/..., made from feature."""
    queue = "gh-readonly-queue/main/pr-1-" + fresh.main
    fresh.dev.git("branch", queue, "feature")
    fresh.dev.git("push", "-q", "origin", queue)
    ci = fresh.checkout("ci-queue", queue)
    return ci, queue


def test_github_merge_group_uses_its_base_and_head(fresh: World, tmp_path: Path) -> None:
    ci, queue = merge_group_world(fresh)
    group = {
        "base_ref": "refs/heads/main",
        "base_sha": fresh.main,
        "head_sha": fresh.feature,
        "head_ref": f"refs/heads/{queue}",
    }
    env = github(
        ci, tmp_path, "merge_group", {**repository(), "merge_group": group}, GITHUB_REF=f"refs/heads/{queue}"
    )
    code, report = ci_json(ci, env)
    assert code == 1
    note = range_note(report)
    assert "GitHub merge_group" in note and f"{fresh.main[:12]}..{fresh.feature[:12]}" in note


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("head_sha", "main"),  # not an id
        ("head_sha", "1234567890" * 4),  # not in the clone
        ("base_sha", "HEAD"),
        ("base_sha", "--upload-pack=touch /tmp/pwned"),
        ("base_ref", "refs/tags/main"),  # a merge group merges into a branch
        ("base_ref", "refs/heads/-x"),
    ],
)
def test_attack_github_merge_group_with_crafted_fields_is_refused(
    fresh: World, tmp_path: Path, field: str, value: str
) -> None:
    ci, _ = merge_group_world(fresh)
    group = {"base_ref": "refs/heads/main", "base_sha": fresh.main, "head_sha": fresh.feature, field: value}
    env = github(ci, tmp_path, "merge_group", {**repository(), "merge_group": group})
    refused(ci.ap("check", "--ci", env=env), f"merge_group.{field}")


def test_attack_github_merge_group_whose_head_is_not_the_checkout_is_refused(
    fresh: World, tmp_path: Path
) -> None:
    ci, _ = merge_group_world(fresh)
    group = {"base_ref": "refs/heads/main", "base_sha": fresh.main, "head_sha": fresh.main}
    env = github(ci, tmp_path, "merge_group", {**repository(), "merge_group": group})
    refused(ci.ap("check", "--ci", env=env), "merge_group.head_sha", "HEAD")


# -- GitHub: hostile values --------------------------------------------------------


@pytest.mark.parametrize(
    "before",
    [
        "HEAD",
        "main",
        "refs/remotes/origin/main",
        "--upload-pack=touch /tmp/pwned",
        "-x",
        "HEAD~1",
        "abc1234",  # abbreviated
        "1234567890" * 4,  # not in the clone
        "g" * 40,
        "0" * 39,
        ZERO + "\n::set-env name=X::y",
    ],
)
def test_attack_github_crafted_before_is_refused_naming_it(world: World, tmp_path: Path, before: str) -> None:
    ci = world.checkout("ci-main")
    payload = {**repository(), "before": before, "created": False}
    done = ci.ap(
        "check",
        "--ci",
        "--format",
        "json",
        env=github(ci, tmp_path, "push", payload, GITHUB_REF="refs/heads/main"),
    )
    refused(done, "`before`", "GITHUB_EVENT_PATH")
    stopped = json.loads(done.out)  # the JSON consumer gets a document stating the error, no verdict
    assert stopped["error"]["exit_code"] == 2 and stopped["findings"] == [] and stopped["changes"] == []
    assert not any(line.lstrip().startswith("::") for line in done.out.splitlines())


@pytest.mark.parametrize("before", [None, 12, ["x"], {"a": 1}, ""])
def test_attack_github_push_without_a_string_before_is_refused(
    world: World, tmp_path: Path, before: object
) -> None:
    ci = world.checkout("ci-main")
    payload: dict[str, object] = {**repository(), "created": False}
    if before is not None:
        payload["before"] = before
    done = ci.ap("check", "--ci", env=github(ci, tmp_path, "push", payload, GITHUB_REF="refs/heads/main"))
    refused(done, "before")


def test_attack_github_before_that_is_a_blob_not_a_commit_is_refused(world: World, tmp_path: Path) -> None:
    ci = world.checkout("ci-main")
    blob = ci.git("rev-parse", "HEAD:agents/billing-cycle.yaml").strip()
    payload = {**repository(), "before": blob, "created": False}
    done = ci.ap("check", "--ci", env=github(ci, tmp_path, "push", payload, GITHUB_REF="refs/heads/main"))
    refused(done, "`before`")


@pytest.mark.parametrize(
    "name",
    [
        "--upload-pack=touch /tmp/pwned",
        "-x",
        "main\n::set-env name=X::y",
        "main~1",
        "main^",
        "main@{0}",
        "HEAD",
        "ma..in",
        "main.lock",
        "",
    ],
)
def test_attack_github_crafted_base_ref_is_refused_naming_it(world: World, tmp_path: Path, name: str) -> None:
    ci = world.checkout("ci-feature", "feature")
    if not name:  # an empty GITHUB_BASE_REF is a non-PR run: crafted in the payload instead
        env = github(ci, tmp_path, "pull_request", {**repository(), "pull_request": {"base": {"ref": name}}})
        code, report = ci_json(ci, env)  # an empty target is no target: judged against the default branch
        assert code == 1 and "refs/remotes/origin/main" in range_note(report)
        return
    done = ci.ap(
        "check", "--ci", env=github(ci, tmp_path, "pull_request", repository(), GITHUB_BASE_REF=name)
    )
    refused(done, "GITHUB_BASE_REF")
    assert not [
        line for line in done.text.splitlines() if line.startswith("::") and not line.startswith(ERROR_LINE)
    ]


def test_attack_github_base_ref_that_is_only_a_tag_is_never_the_tag(fresh: World, tmp_path: Path) -> None:
    fresh.dev.git("tag", "v1", "feature")  # the attacker's own tip, as a tag named like the target
    fresh.dev.git("push", "-q", "origin", "v1")
    ci = fresh.checkout("ci-feature", "feature")
    ci.git("fetch", "-q", "--tags", "origin")
    done = ci.ap(
        "check", "--ci", env=github(ci, tmp_path, "pull_request", repository(), GITHUB_BASE_REF="v1")
    )
    refused(done, "GITHUB_BASE_REF", "v1", "git fetch")


def test_attack_tags_shadowing_the_default_branch_do_not_stand_in_for_it(
    fresh: World, tmp_path: Path
) -> None:
    ci = fresh.checkout("ci-feature", "feature")
    for tag in ("main", "origin/main", "refs/remotes/origin/main", "heads/main"):
        ci.git("tag", tag, "feature")
    for event, extra in (("schedule", {}), ("pull_request", {"GITHUB_BASE_REF": "main"})):
        code, report = ci_json(ci, github(ci, tmp_path, event, repository(), **extra))
        assert code == 1, (event, report)
        assert f"{fresh.main[:12]}..{fresh.feature[:12]}" in range_note(report)


@pytest.mark.parametrize("name", ["--upload-pack=x", "-x", "main\nx", "main~1", "HEAD", "a b"])
def test_attack_github_crafted_default_branch_is_refused_naming_it(
    world: World, tmp_path: Path, name: str
) -> None:
    ci = world.checkout("ci-feature", "feature")
    done = ci.ap("check", "--ci", env=github(ci, tmp_path, "schedule", repository(name)))
    refused(done, "repository.default_branch")


@pytest.mark.parametrize(
    "payload",
    [
        "{not json",
        "[1, 2]",
        '"text"',
        "",
        "[" * 100_000,
        "\udcff".encode("utf-8", "surrogateescape").decode("latin-1"),
    ],
)
def test_attack_github_unreadable_event_payload_is_refused_naming_it(
    world: World, tmp_path: Path, payload: str
) -> None:
    ci = world.checkout("ci-main")
    path = tmp_path / "event.json"
    path.write_bytes(payload.encode("latin-1"))
    env = github(ci, tmp_path, "push", None, GITHUB_EVENT_PATH=str(path), GITHUB_REF="refs/heads/main")
    refused(ci.ap("check", "--ci", env=env), "GITHUB_EVENT_PATH")


def test_github_missing_event_file_is_refused_naming_it(world: World, tmp_path: Path) -> None:
    ci = world.checkout("ci-main")
    env = github(
        ci,
        tmp_path,
        "push",
        None,
        GITHUB_EVENT_PATH=str(tmp_path / "gone.json"),
        GITHUB_REF="refs/heads/main",
    )
    refused(ci.ap("check", "--ci", env=env), "GITHUB_EVENT_PATH", "gone.json")


def test_github_push_without_github_ref_is_refused_naming_it(world: World, tmp_path: Path) -> None:
    ci = world.checkout("ci-main")
    payload = {**repository(), "before": world.main, "created": False}
    refused(ci.ap("check", "--ci", env=github(ci, tmp_path, "push", payload)), "GITHUB_REF")


# -- GitLab ------------------------------------------------------------------------


def test_gitlab_push_of_a_new_branch_is_judged_against_the_default_branch(world: World) -> None:
    ci = world.checkout("ci-feature", "feature")
    env = gitlab(
        ci,
        CI_PIPELINE_SOURCE="push",
        CI_COMMIT_BRANCH="feature",
        CI_DEFAULT_BRANCH="main",
        CI_COMMIT_BEFORE_SHA=ZERO,
    )
    code, report = ci_json(ci, env)
    assert code == 1
    note = range_note(report)
    assert "GitLab push" in note and f"{world.main[:12]}..{world.feature[:12]}" in note


def test_gitlab_first_push_of_the_default_branch_is_a_whole_tree_policy_check(world: World) -> None:
    ci = world.checkout("ci-main")
    env = gitlab(
        ci,
        CI_PIPELINE_SOURCE="push",
        CI_COMMIT_BRANCH="main",
        CI_DEFAULT_BRANCH="main",
        CI_COMMIT_BEFORE_SHA=ZERO,
    )
    done = ci.ap("check", "--ci", "--format", "text", env=env)
    assert done.code == 0, done.text
    assert "whole-tree policy check" in done.out and "CI_COMMIT_BEFORE_SHA is all zeros" in done.out
    assert "not set" not in done.text and "unset" not in done.text


@pytest.mark.parametrize("source", ["schedule", "web", "api", "trigger", "pipeline", "a_future_source"])
def test_gitlab_other_pipeline_sources_get_a_range(world: World, source: str) -> None:
    on_main = world.checkout("ci-main")
    env = gitlab(
        on_main,
        CI_PIPELINE_SOURCE=source,
        CI_COMMIT_BRANCH="main",
        CI_DEFAULT_BRANCH="main",
        CI_COMMIT_BEFORE_SHA=ZERO,
    )
    code, report = ci_json(on_main, env)
    assert code == 0 and "whole-tree policy check" in range_note(report)
    assert f"GitLab {source}" in range_note(report)
    on_feature = world.checkout("ci-feature", "feature")
    env = gitlab(
        on_feature,
        CI_PIPELINE_SOURCE=source,
        CI_COMMIT_BRANCH="feature",
        CI_DEFAULT_BRANCH="main",
        CI_COMMIT_BEFORE_SHA=ZERO,
    )
    code, report = ci_json(on_feature, env)
    assert code == 1 and f"{world.main[:12]}..{world.feature[:12]}" in range_note(report)


def test_gitlab_schedule_on_the_default_branch_ignores_a_before_it_does_not_need(world: World) -> None:
    ci = world.checkout("ci-main")
    env = gitlab(ci, CI_PIPELINE_SOURCE="schedule", CI_COMMIT_BRANCH="main", CI_DEFAULT_BRANCH="main")
    code, report = ci_json(ci, env)
    assert code == 0 and "whole-tree policy check" in range_note(report)


def test_gitlab_merge_request_pipelines(world: World) -> None:
    ci = world.checkout("ci-feature", "feature")
    env = gitlab(
        ci,
        CI_PIPELINE_SOURCE="merge_request_event",
        CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main",
        CI_MERGE_REQUEST_DIFF_BASE_SHA=world.main,
        CI_COMMIT_BEFORE_SHA=ZERO,  # what GitLab sends in a merge request pipeline
        CI_DEFAULT_BRANCH="main",
    )
    code, report = ci_json(ci, env)
    assert code == 1 and "GitLab merge_request_event" in range_note(report)
    env.pop("CI_MERGE_REQUEST_TARGET_BRANCH_NAME")  # an older GitLab: the diff base only
    code, report = ci_json(ci, env)
    assert code == 1 and "CI_MERGE_REQUEST_DIFF_BASE_SHA" in range_note(report)


def test_gitlab_default_branch_is_found_without_ci_default_branch(world: World) -> None:
    ci = world.checkout("ci-feature", "feature")
    code, report = ci_json(ci, gitlab(ci, CI_PIPELINE_SOURCE="push", CI_COMMIT_BRANCH="feature"))
    assert code == 1 and "refs/remotes/origin/main" in range_note(report)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CI_COMMIT_BEFORE_SHA", "HEAD"),
        ("CI_COMMIT_BEFORE_SHA", "--upload-pack=x"),
        ("CI_COMMIT_BEFORE_SHA", "1234567890" * 4),
        ("CI_COMMIT_BEFORE_SHA", "main"),
        ("CI_DEFAULT_BRANCH", "-x"),
        ("CI_DEFAULT_BRANCH", "main\n::set-env name=X::y"),
        ("CI_COMMIT_BRANCH", "main~1"),
        ("CI_MERGE_REQUEST_DIFF_BASE_SHA", "HEAD"),
        ("CI_MERGE_REQUEST_DIFF_BASE_SHA", "1234567890" * 4),
        ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "--upload-pack=x"),
        ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "v1 x"),
    ],
)
def test_attack_gitlab_crafted_variables_are_refused_naming_them(
    world: World, variable: str, value: str
) -> None:
    ci = world.checkout("ci-main")
    env = gitlab(
        ci,
        CI_PIPELINE_SOURCE="push",
        CI_COMMIT_BRANCH="main",
        CI_DEFAULT_BRANCH="main",
        CI_COMMIT_BEFORE_SHA=world.main,
    )
    env[variable] = value
    refused(ci.ap("check", "--ci", env=env), variable)


def test_gitlab_push_without_before_is_refused_naming_it(world: World) -> None:
    ci = world.checkout("ci-main")
    env = gitlab(ci, CI_PIPELINE_SOURCE="push", CI_COMMIT_BRANCH="main", CI_DEFAULT_BRANCH="main")
    refused(ci.ap("check", "--ci", env=env), "CI_COMMIT_BEFORE_SHA")


# -- every range note: one line, in every format -------------------------------------


def test_the_range_note_is_one_line_in_text_github_and_json(world: World, tmp_path: Path) -> None:
    ci = world.checkout("ci-feature", "feature")
    env = github(ci, tmp_path, "workflow_dispatch", repository(), GITHUB_REF="refs/heads/feature")
    text = ci.ap("check", "--ci", "--format", "text", env=env)
    assert text.out.splitlines()[0].startswith("note: --ci: GitHub workflow_dispatch: range merge-base(")
    annotations = ci.ap("check", "--ci", env=env)  # github format under --ci
    notice = [
        line for line in annotations.out.splitlines() if line.startswith("::notice title=agentpolicy::--ci: ")
    ]
    assert len(notice) == 1 and "workflow_dispatch" in notice[0]
    summary = tmp_path / "summary.md"
    ci.ap("check", "--ci", env={**env, "GITHUB_STEP_SUMMARY": str(summary)})
    assert "--ci: GitHub workflow\\_dispatch: range" in summary.read_text()


# -- when --ci must stop: the annotation and the job summary --------------------------


def stopped(done: Run, summary: Path, *words: str) -> None:
    """Exit 2 with one ::error annotation and a job-summary line, each naming WORDS."""
    assert done.code == 2, done.text
    errors = [line for line in done.err.splitlines() if line.startswith(ERROR_LINE)]
    assert len(errors) == 1, done.text
    assert "%0Afix: " in errors[0]
    text = summary.read_text()
    assert "could not run" in text
    for word in words:
        assert word in errors[0] and word in text, (word, errors[0], text)
    assert not [
        line for line in done.text.splitlines() if line.startswith("::") and not line.startswith(ERROR_LINE)
    ]


@pytest.mark.parametrize("fmt", ["github", "json", "text", "sarif", "junit"])
def test_ci_outside_a_repository_annotates_and_summarises(tmp_path: Path, home: Path, fmt: str) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    summary = tmp_path / "summary.md"
    env = {
        **clean_env(home),
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    done = run([AGENTPOLICY, "check", "--ci", "--format", fmt], folder, env)
    stopped(done, summary, "not inside a git repository")


def test_ci_on_a_shallow_clone_annotates_with_the_fetch_fix(fresh: World, tmp_path: Path) -> None:
    fresh.dev.git("checkout", "-q", "feature")
    for number in range(3):
        fresh.dev.write(f"notes/{number}.txt", "x")
        fresh.dev.commit(f"note {number}")
    fresh.dev.git("push", "-q", "origin", "feature")
    ci = fresh.checkout("ci-shallow", "main", "--depth", "1", "--no-single-branch", "--branch", "feature")
    summary = tmp_path / "summary.md"
    env = github(
        ci, tmp_path, "pull_request", repository(), GITHUB_BASE_REF="main", GITHUB_STEP_SUMMARY=str(summary)
    )
    stopped(ci.ap("check", "--ci", "--format", "json", env=env), summary, "shallow", "fetch-depth: 0")


def test_ci_with_a_bad_configuration_annotates(fresh: World, tmp_path: Path) -> None:
    fresh.dev.write(".agentpolicy.yaml", "agents: [unclosed\n")
    fresh.dev.commit("break the config")
    fresh.dev.git("push", "-q", "origin", "main")
    ci = fresh.checkout("ci-main")
    summary = tmp_path / "summary.md"
    env = github(ci, tmp_path, "schedule", repository(), GITHUB_STEP_SUMMARY=str(summary))
    stopped(ci.ap("check", "--ci", env=env), summary, ".agentpolicy.yaml")


def test_ci_with_an_unfetched_target_annotates(world: World, tmp_path: Path) -> None:
    ci = world.checkout("ci-feature", "feature")
    summary = tmp_path / "summary.md"
    env = github(
        ci,
        tmp_path,
        "pull_request",
        repository(),
        GITHUB_BASE_REF="release",
        GITHUB_STEP_SUMMARY=str(summary),
    )
    stopped(ci.ap("check", "--ci", "--format", "text", env=env), summary, "release", "git fetch")


def test_attack_injection_through_a_failing_value_is_neutralised(world: World, tmp_path: Path) -> None:
    """A branch name (valid for git) written into the ::error line and the summary changes neither."""
    ci = world.checkout("ci-feature", "feature")
    summary = tmp_path / "summary.md"
    name = "<img>@everyone%0A::warning::x,y:z[link](javascript:1)"
    env = github(
        ci, tmp_path, "pull_request", repository(), GITHUB_BASE_REF=name, GITHUB_STEP_SUMMARY=str(summary)
    )
    done = ci.ap("check", "--ci", env=env)
    assert done.code == 2, done.text
    errors = [line for line in done.err.splitlines() if line.startswith(ERROR_LINE)]
    assert len(errors) == 1 and "%250A::warning" in errors[0]
    assert not [
        line
        for line in done.text.splitlines()
        if line.lstrip().startswith("::") and not line.startswith(ERROR_LINE)
    ]
    text = summary.read_text()
    assert "<img>" not in text and "&lt;img&gt;" in text
    assert "`@everyone`" in text and "](javascript" not in text


def test_ci_stops_without_a_summary_file_when_none_is_set(world: World, tmp_path: Path) -> None:
    ci = world.checkout("ci-feature", "feature")
    env = github(ci, tmp_path, "pull_request", repository(), GITHUB_BASE_REF="release")
    done = ci.ap("check", "--ci", env=env)
    assert done.code == 2
    assert len([line for line in done.err.splitlines() if line.startswith(ERROR_LINE)]) == 1


def test_ci_on_gitlab_stops_without_github_annotations(world: World) -> None:
    ci = world.checkout("ci-main")
    done = ci.ap(
        "check",
        "--ci",
        env=gitlab(ci, CI_PIPELINE_SOURCE="push", CI_COMMIT_BRANCH="main", CI_DEFAULT_BRANCH="main"),
    )
    assert done.code == 2
    assert "::error" not in done.text


def test_attack_event_payload_that_is_a_fifo_is_refused_not_waited_on(world: World, tmp_path: Path) -> None:
    ci = world.checkout("ci-main")
    fifo = tmp_path / "event.fifo"
    os.mkfifo(fifo)
    env = github(ci, tmp_path, "push", None, GITHUB_EVENT_PATH=str(fifo), GITHUB_REF="refs/heads/main")
    refused(ci.ap("check", "--ci", env=env), "GITHUB_EVENT_PATH", "not a regular file")


@pytest.mark.parametrize("variable", ["GITHUB_EVENT_NAME", "GITHUB_REF"])
def test_attack_event_name_and_ref_with_newlines_keep_the_note_one_line(
    world: World, tmp_path: Path, variable: str
) -> None:
    ci = world.checkout("ci-feature", "feature")
    env = github(ci, tmp_path, "push", repository(), GITHUB_REF="refs/heads/feature")
    env[variable] = "push\n::set-env name=X::y\u202e"
    code, report = ci_json(ci, env)
    assert code == 1
    note = range_note(report)
    assert "\\n::set-env" in note and "\\u202e" in note
    done = ci.ap("check", "--ci", env=env)
    assert not [line for line in done.out.splitlines() if line.startswith("::set-env")]


def test_gitlab_pipeline_source_with_a_newline_keeps_the_note_one_line(world: World) -> None:
    ci = world.checkout("ci-main")
    env = gitlab(
        ci, CI_PIPELINE_SOURCE="web\nnote: forged", CI_COMMIT_BRANCH="main", CI_DEFAULT_BRANCH="main"
    )
    code, report = ci_json(ci, env)
    assert code == 0 and "web\\nnote: forged" in range_note(report)
