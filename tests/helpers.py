"""Builders for real git repositories, real ssh-keygen keys and real CLI runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

AGENTPOLICY = str(Path(sys.executable).with_name("agentpolicy"))

BILLING = """\
apiVersion: agentpolicy/v1
kind: Agent
name: billing-cycle              # identity: lowercase letters, digits, '-'; unique in the repo
version: 1.4.0                   # semantic version (a string; 1.10 must never become the float 1.1)
stage: production                # pilot | staging | production | retired
description: Generates the monthly billing documents and sends notifications.
owner:                           # 1. one accountable person, not a team
  name: Anna Nowak
  email: anna.nowak@example.com
autonomy:                        # 2. the boundary of autonomy
  autonomous:
    - action: generate-billing-documents
      description: Render the monthly invoices as PDF.
    - action: send-notifications
  requires_confirmation:
    - action: submit-to-client-portal
      description: Upload the invoice totals to the client portal.
      irreversible: true
monitoring:                      # 3. how we will know something is wrong
  signals:
    - name: invoice-total-drift
      detects: Cycle totals deviate more than 5% from the previous cycle.
      alert: pagerduty:billing-oncall
undo:                            # 4. rollback, or a human checkpoint before irreversible actions
  rollback: Redeploy the previous release tag; generated documents are regenerated.
  human_checkpoint: A person approves every portal submission.
change_control:                  # 5. how the next version gets approved
  approvals_required: 1
  process: Pull request plus a signed review entry by someone other than the author.
"""

EXPANDED_BILLING = BILLING.replace("version: 1.4.0 ", "version: 1.5.0 ").replace(
    """    - action: send-notifications
  requires_confirmation:
    - action: submit-to-client-portal
      description: Upload the invoice totals to the client portal.
      irreversible: true
""",
    """    - action: send-notifications
    - action: submit-to-client-portal
      description: Upload the invoice totals to the client portal.
      irreversible: true
  requires_confirmation: []
""",
)


def agent_yaml(
    name: str = "pdf-extraction",
    version: str = "1.0.0",
    stage: str = "production",
    owner: str = "Piotr Zielinski",
    email: str = "piotr@example.com",
) -> str:
    return f"""\
apiVersion: agentpolicy/v1
kind: Agent
name: {name}
version: {version}
stage: {stage}
owner:
  name: {owner}
  email: {email}
autonomy:
  autonomous:
    - action: extract-fields
  requires_confirmation:
    - action: export-data
      irreversible: true
monitoring:
  signals:
    - name: low-confidence-rate
      detects: More than 10% of fields below confidence threshold.
      alert: slack:#extraction
undo:
  human_checkpoint: A person approves the extracted data before it moves.
change_control:
  approvals_required: 1
"""


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment with no GIT_* leaking in from a hook and a private HOME."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GIT_", "PRE_COMMIT"))}
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", NO_COLOR="1", LC_ALL="C.UTF-8")
    env.pop("GITHUB_ACTIONS", None)
    env.update(extra)
    return env


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


# `agentpolicy` runs in this process (the console script's own `launcher.main`, under click's
# CliRunner isolation) unless AGENTPOLICY_TEST_SUBPROCESS=1: a process start costs more than most
# commands. Tests of what only a real process shows (signals, closed or full stdout, locales, the
# hooks pre-commit runs) start one themselves.
IN_PROCESS = os.environ.get("AGENTPOLICY_TEST_SUBPROCESS") != "1"


def run(
    args: list[str], cwd: Path, env: dict[str, str], stdin: str | None = None, check: bool = False
) -> Run:
    if IN_PROCESS and args and args[0] == AGENTPOLICY and not _shapes_the_interpreter(env):
        done = run_in_process(args[1:], cwd, env, stdin)
    else:
        finished = subprocess.run(
            args,
            cwd=cwd,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        done = Run(finished.returncode, finished.stdout, finished.stderr)
    if check and done.code != 0:
        raise AssertionError(f"{args} failed ({done.code}):\n{done.out}\n{done.err}")
    return done


def _shapes_the_interpreter(env: dict[str, str]) -> bool:
    """Settings read when Python starts need a real process: PYTHON* variables other than this
    process's own, or a locale that is not UTF-8 (in process, the streams are always UTF-8)."""
    if any(env.get(key) != os.environ.get(key) for key in {*env, *os.environ} if key.startswith("PYTHON")):
        return True
    return any(
        env.get(key) and not env[key].lower().replace("-", "").endswith("utf8")
        for key in ("LC_ALL", "LC_CTYPE", "LANG")
    )


def run_in_process(args: list[str], cwd: Path, env: dict[str, str], stdin: str | None = None) -> Run:
    """`agentpolicy ARGS` as the console script runs it, in this process: the same entry point,
    environment, working folder and standard streams, and libgit2 re-reading HOME for its
    global configuration (it caches the search path at start-up)."""
    import tempfile
    import traceback

    import click.testing
    import pygit2
    from pygit2.enums import ConfigLevel

    from agentpolicy import launcher

    saved_env, saved_cwd, saved_argv = dict(os.environ), os.getcwd(), sys.argv
    os.environ.clear()
    os.environ.update(env)
    for level in (ConfigLevel.GLOBAL, ConfigLevel.XDG, ConfigLevel.SYSTEM):
        pygit2.settings.search_path[level] = None
    tempfile.tempdir = None  # re-read TMPDIR (the module caches the folder it chose)
    os.chdir(cwd)
    sys.argv = ["agentpolicy", *args]
    try:
        with click.testing.CliRunner().isolation(input=stdin) as (out, err, _):
            try:
                launcher.main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
                if isinstance(exc.code, str):
                    sys.stderr.write(exc.code + "\n")
            except BaseException:  # what the interpreter would print, with its exit status
                sys.stderr.write(traceback.format_exc())
                code = 1
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            return Run(
                code, out.getvalue().decode("utf-8", "replace"), err.getvalue().decode("utf-8", "replace")
            )
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        for level in (ConfigLevel.GLOBAL, ConfigLevel.XDG, ConfigLevel.SYSTEM):
            pygit2.settings.search_path[level] = None
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        tempfile.tempdir = None


class GitRepo:
    """A throwaway repository driven through the real git and agentpolicy commands."""

    def __init__(self, path: Path, home: Path) -> None:
        self.path = path
        self.home = home
        self.env = clean_env(home)
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", "Dev Author")
        self.git("config", "user.email", "dev@example.com")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        return run(["git", *args], self.path, env or self.env, check=True).out

    def ap(self, *args: str, env: dict[str, str] | None = None) -> Run:
        return run([AGENTPOLICY, *args], self.path, env or self.env)

    def write(self, relative: str, text: str | bytes) -> Path:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8")
        return target

    def read(self, relative: str) -> str:
        return (self.path / relative).read_text(encoding="utf-8")

    def commit(self, message: str = "change", *, author: str | None = None, verify: bool = False) -> str:
        self.git("add", "-A")
        args = ["commit", "-q", "-m", message]
        if not verify:
            args.append("--no-verify")
        self.git(*args, env=self.as_author(author) if author else self.env)
        return self.git("rev-parse", "HEAD").strip()

    def stage(self) -> None:
        self.git("add", "-A")

    def as_author(self, author: str) -> dict[str, str]:
        """This repository's environment with `Name <email>` as both author and committer."""
        name, email = author.split(" <")
        env = dict(self.env)
        env.update(
            GIT_AUTHOR_NAME=name,
            GIT_AUTHOR_EMAIL=email.rstrip(">"),
            GIT_COMMITTER_NAME=name,
            GIT_COMMITTER_EMAIL=email.rstrip(">"),
        )
        return env

    def merge_commit(self, message: str, *parents: str, author: str = "Dev Author <dev@example.com>") -> str:
        """A merge commit of the staged tree with the given parents, as `git merge` would record it
        (git refuses to merge an ancestor, but a merge commit with one is an ordinary object)."""
        self.git("add", "-A")
        tree = self.git("write-tree").strip()
        args = ["commit-tree", tree, "-m", message]
        for parent in parents:
            args += ["-p", parent]
        commit = self.git(*args, env=self.as_author(author)).strip()
        self.git("reset", "-q", "--soft", commit)
        return commit


@dataclass(frozen=True)
class Key:
    private: Path
    public: Path
    email: str

    @property
    def public_text(self) -> str:
        return self.public.read_text().strip()

    def signer_line(self, options: str = 'namespaces="agentpolicy-review"') -> str:
        return f"{self.email} {options} {self.public_text}".replace("  ", " ")


def make_key(folder: Path, email: str, key_type: str = "ed25519") -> Key:
    folder.mkdir(parents=True, exist_ok=True)
    private = folder / email.split("@")[0]
    if not private.exists():
        args = ["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", email, "-f", str(private)]
        if key_type == "rsa":
            args[4:4] = ["-b", "2048"]
        subprocess.run(args, check=True, capture_output=True)
    return Key(private, private.with_suffix(".pub"), email)


def approve(repo: GitRepo, key: Key, agent: str = "billing-cycle", *extra: str) -> Run:
    name = key.email.split("@")[0].capitalize()
    return repo.ap("approve", agent, "--reviewer", f"{name} <{key.email}>", "--key", str(key.private), *extra)


def guarded_repo(repo: GitRepo, keys: dict[str, Key], *signers: str, config: str | None = None) -> GitRepo:
    """A repo whose first commit holds the billing agent, approved and signed by `rev`."""
    names = signers or ("rev", "rev2", "dev")
    repo.write(".agentpolicy/allowed_signers", "".join(keys[name].signer_line() + "\n" for name in names))
    if config is not None:
        repo.write(".agentpolicy.yaml", config)
    repo.write("agents/billing-cycle.yaml", BILLING)
    done = approve(repo, keys["rev"])
    assert done.code == 0, done.text
    repo.commit("billing agent")
    return repo


def check_findings(repo: GitRepo, *args: str, env: dict[str, str] | None = None) -> tuple[int, list[dict]]:
    """`agentpolicy check --format json ARGS`: its exit code (0 or 1, never an error) and findings."""
    done = repo.ap("check", "--format", "json", *args, env=env)
    assert done.code in (0, 1), done.text
    return done.code, json.loads(done.out)["findings"]


def rule_ids(found: list[dict]) -> set[str]:
    return {finding["rule"] for finding in found}


def strict_audit(repo: GitRepo) -> int:
    """The exit code of the nightly job's `audit --strict`."""
    return repo.ap("audit", "--strict", "--format", "json").code


def write_signers(repo: GitRepo, *lines: str) -> None:
    repo.write(".agentpolicy/allowed_signers", "".join(line + "\n" for line in lines))


def chromium_dom(chromium: str, uri: str, profile: Path) -> str:
    """The DOM headless Chromium renders for ``uri``, offline (no background networking, a
    fresh profile), as a user's browser would show the page after its scripts ran."""
    rendered = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--dump-dom",
            uri,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    return rendered.stdout


def feature_clone(
    tmp_path: Path, keys: dict[str, Key], clone_at: Path, *, approved: bool
) -> tuple[GitRepo, GitRepo]:
    """A pull request's two sides: `origin` holds the approved billing agent on main, and a clone
    at ``clone_at`` has a `feature` branch that raises its version (approved by `rev` or not)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    origin = guarded_repo(GitRepo(tmp_path / "origin", home), keys)
    origin.git("clone", "-q", str(origin.path), str(clone_at))
    clone = GitRepo(clone_at, home)
    clone.git("checkout", "-q", "-b", "feature")
    clone.write("agents/billing-cycle.yaml", BILLING.replace("version: 1.4.0 ", "version: 1.4.1 "))
    if approved:
        done = approve(clone, keys["rev"])
        assert done.code == 0, done.text
    clone.commit("billing-cycle 1.4.1")
    return origin, clone
