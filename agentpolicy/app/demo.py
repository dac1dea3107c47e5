"""`agentpolicy demo`: the whole story on a real, throwaway repository.

The steps run the real commands (git, the pre-commit hook, agentpolicy) as a
user would, and hand each result back to the CLI to show: the library itself
never prints.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from agentpolicy.errors import AgentPolicyError

BILLING = """\
apiVersion: agentpolicy/v1
kind: Agent
name: billing-cycle
version: 1.4.0
stage: production
description: Generates the monthly billing documents and sends notifications.
owner:
  name: Anna Nowak
  email: anna.nowak@example.com
autonomy:
  autonomous:
    - action: generate-billing-documents
    - action: send-notifications
  requires_confirmation:
    - action: submit-to-client-portal
      description: Upload the invoice totals to the client portal.
      irreversible: true
monitoring:
  signals:
    - name: invoice-total-drift
      detects: Cycle totals deviate more than 5% from the previous cycle.
      alert: pagerduty:billing-oncall
undo:
  rollback: Redeploy the previous release tag; generated documents are regenerated.
  human_checkpoint: A person approves every portal submission.
change_control:
  approvals_required: 1
  process: Pull request plus a signed review entry by someone other than the author.
"""

PDF = """\
apiVersion: agentpolicy/v1
kind: Agent
name: pdf-extraction
version: 2.1.0
stage: production
description: Extracts invoice data from PDF documents and proposes it for booking.
owner:
  name: Piotr Zielinski
  email: piotr.zielinski@example.com
autonomy:
  autonomous:
    - action: extract-fields
      description: Read the PDF and propose structured fields.
  requires_confirmation:
    - action: export-to-erp
      description: Move the approved data into the ERP system.
      irreversible: true
monitoring:
  signals:
    - name: low-confidence-rate
      detects: More than 10% of fields in a day fall below the confidence threshold.
      alert: slack:#finance-automation
undo:
  human_checkpoint: A person approves the extracted data before it moves anywhere.
change_control:
  approvals_required: 1
  process: Pull request with a signed review entry by a finance reviewer.
"""

_PORTAL = """\
    - action: submit-to-client-portal
      description: Upload the invoice totals to the client portal.
      irreversible: true
"""
PORTAL_AUTONOMOUS = BILLING.replace("version: 1.4.0", "version: 1.5.0").replace(
    "  requires_confirmation:\n" + _PORTAL, _PORTAL + "  requires_confirmation: []\n"
)


@dataclass
class Step:
    title: str
    explanation: str
    command: str = ""
    output: str = ""
    exit_code: int = 0


class DemoRepo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = root / "repo"
        self.env = {
            key: value for key, value in os.environ.items() if not key.startswith(("GIT_", "PRE_COMMIT"))
        }
        self.env.update(
            HOME=str(root / "home"),
            GIT_CONFIG_NOSYSTEM="1",
            NO_COLOR="1",
            PRE_COMMIT_HOME=str(root / "pre-commit-cache"),
        )
        (root / "home").mkdir()

    def run(self, *args: str, check: bool = True) -> tuple[int, str]:
        done = subprocess.run(args, cwd=self.repo, env=self.env, capture_output=True, text=True, check=False)
        if check and done.returncode != 0:
            raise AgentPolicyError(
                f"demo step failed: {' '.join(args)}\n{done.stdout}{done.stderr}",
                "please report this; the demo needs git and ssh-keygen on PATH",
            )
        return done.returncode, (done.stdout + done.stderr).rstrip()

    def agentpolicy(self, *args: str) -> tuple[int, str]:
        return self.run(sys.executable, "-m", "agentpolicy", *args, check=False)

    def write(self, relative: str, text: str) -> None:
        path = self.repo / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _hook(demo: DemoRepo) -> str:
    """A local pre-commit hook that calls this very installation: no network needed."""
    # -P: the work tree, where anyone with commit access can put a module named like one of
    # ours, is not put first on the import path (as plain `python -m` does).
    command = f"{shlex.quote(sys.executable)} -P -m agentpolicy check --staged"
    if importlib.util.find_spec("pre_commit") is None:
        hook = demo.repo / ".git" / "hooks" / "pre-commit"
        hook.write_text(f"#!/bin/sh\nexec {command}\n")
        hook.chmod(0o755)
        return "a plain git hook (pre-commit is not installed here)"
    demo.write(
        ".pre-commit-config.yaml",
        f"""\
repos:
  - repo: local
    hooks:
      - id: agentpolicy
        name: agentpolicy
        entry: {json.dumps(command)}
        language: system
        pass_filenames: false
        always_run: true
        require_serial: true
""",
    )
    demo.run(sys.executable, "-m", "pre_commit", "install")
    return "the pre-commit framework, with a local hook calling this installation"


def run_demo(keep: bool = False) -> Iterator[Step]:
    if shutil.which("git") is None or shutil.which("ssh-keygen") is None:
        raise AgentPolicyError(
            "the demo needs git and ssh-keygen on PATH",
            "install them (Debian/Ubuntu: apt-get install git openssh-client)",
        )
    root = Path(tempfile.mkdtemp(prefix="agentpolicy-demo-"))
    try:
        yield from _story(DemoRepo(root))
        if keep:
            yield Step(
                "Kept",
                f"The demo repository is at {root / 'repo'}; explore it with git log and agentpolicy audit.",
            )
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _story(demo: DemoRepo) -> Iterator[Step]:
    demo.repo.mkdir()
    demo.run("git", "init", "-q", "-b", "main")
    demo.run("git", "config", "user.name", "Dana Developer")
    demo.run("git", "config", "user.email", "dana@example.com")
    demo.run("git", "config", "commit.gpgsign", "false")
    key = demo.root / "rita_ed25519"
    demo.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rita@example.com", "-f", str(key))
    public = (demo.root / "rita_ed25519.pub").read_text().strip()
    demo.write(".agentpolicy/allowed_signers", f'rita@example.com namespaces="agentpolicy-review" {public}\n')
    demo.write("agents/billing-cycle.yaml", BILLING)
    demo.write("agents/pdf-extraction.yaml", PDF)
    hook = _hook(demo)
    yield Step(
        "1. A guarded repository",
        f"A throwaway git repo with two agents that answer all five questions, an allowed-signers file "
        f"trusting Rita's throwaway SSH key, and the hook installed through {hook}.",
    )
    code, out = demo.agentpolicy("check", "agents")
    yield Step(
        "2. The policy check passes",
        "Each agent names one owner, its autonomy boundary, monitoring, undo and review step.",
        "agentpolicy check agents",
        out,
        code,
    )
    for agent in ("billing-cycle", "pdf-extraction"):
        demo.agentpolicy(
            "approve", agent, "--reviewer", "Rita Reviewer <rita@example.com>", "--key", str(key)
        )
    demo.run("git", "add", "-A")
    code, out = demo.run("git", "commit", "-q", "-m", "Two agents, reviewed by Rita", check=False)
    yield Step(
        "3. Rita approves both agents, and the first commit goes in",
        "Each approval is a review entry signed with Rita's SSH key, bound to the agent's exact content.",
        "agentpolicy approve billing-cycle --key rita_ed25519; git commit",
        out or "(committed)",
        code,
    )
    demo.write("agents/billing-cycle.yaml", PORTAL_AUTONOMOUS)
    demo.run("git", "add", "-A")
    code, out = demo.run(
        "git", "commit", "-q", "-m", "Let the billing agent submit to the portal alone", check=False
    )
    yield Step(
        "4. Dana makes portal submission autonomous: the hook refuses the commit",
        "Widening what an agent may do alone is a governed change: it needs a signed review of "
        "exactly this content, and nobody has given one.",
        "git commit -m 'Let the billing agent submit to the portal alone'",
        out,
        code,
    )
    code, out = demo.agentpolicy(
        "approve",
        "billing-cycle",
        "--reviewer",
        "Rita Reviewer <rita@example.com>",
        "--key",
        str(key),
        "--note",
        "Portal totals reconciled for three cycles.",
    )
    yield Step(
        "5. Rita reviews the numbers and signs an approval",
        "The entry binds billing-cycle 1.5.0 and the digest of its new boundary; Dana could not "
        "have signed it for her.",
        "agentpolicy approve billing-cycle --key rita_ed25519",
        out,
        code,
    )
    demo.run("git", "add", "-A")
    code, out = demo.run(
        "git", "commit", "-q", "-m", "Let the billing agent submit to the portal alone", check=False
    )
    yield Step(
        "6. The same commit now goes through",
        "The hook finds Rita's valid entry for this content.",
        "git commit",
        out or "(committed)",
        code,
    )
    code, out = demo.agentpolicy("audit", "--format", "table")
    yield Step(
        "7. The audit trail, from git history alone",
        "Every governed change, who approved it, and whether the signature verifies.",
        "agentpolicy audit",
        out,
        code,
    )
