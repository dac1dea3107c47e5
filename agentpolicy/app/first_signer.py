"""The first allowed signer: the user's own git SSH signing key, or the commands that make one.

`init` seeds the allowed-signers file with the key git signs with (`gpg.format ssh`,
`user.signingkey`). Without one it prints the exact commands: make a key (unless
`~/.ssh/id_ed25519` is there), tell git about it, and append the signer line with the
user's own e-mail, so the first approval can be signed by the next command they run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from agentpolicy.review.sshkeys import is_key_type

NAMESPACE = "agentpolicy-review"
DEFAULT_KEY = "~/.ssh/id_ed25519"


@dataclass(frozen=True)
class FirstSigner:
    """Either `line` (the signer line for the user's key) or `instructions` (commands to run)."""

    line: str | None
    instructions: list[str] = field(default_factory=list)


def signer_line(email: str, public_key: str) -> str:
    return f'{email} namespaces="{NAMESPACE}" {public_key}'


def append_command(email: str, signers_path: str, public_path: str = DEFAULT_KEY + ".pub") -> str:
    """The shell line that appends a signer, as the README shows it (the key read with `cat`)."""
    escaped = f'namespaces=\\"{NAMESPACE}\\"'
    return f'echo "{email} {escaped} $(cat {public_path})" >> {signers_path}'


def find_first_signer(repo: Any, signers_path: str) -> FirstSigner:
    identity = repo.identity()
    email = identity.email if identity else "$(git config user.email)"
    literal = _git_signing_key(repo)
    if literal and identity:
        return FirstSigner(signer_line(identity.email, literal))
    steps = []
    if identity is None:
        steps += [
            'git config --global user.name "Your Name"',
            "git config --global user.email you@example.com",
        ]
    if not os.path.exists(os.path.expanduser(DEFAULT_KEY + ".pub")):
        # ssh-keygen -f does not create the folder, and a new machine has no ~/.ssh yet
        if not os.path.isdir(os.path.expanduser(os.path.dirname(DEFAULT_KEY))):
            steps.append(f"mkdir -m 700 {os.path.dirname(DEFAULT_KEY)}")
        steps.append(f"ssh-keygen -t ed25519 -f {DEFAULT_KEY}")
    steps += [
        "git config --global gpg.format ssh",
        f"git config --global user.signingkey {DEFAULT_KEY}.pub",
        append_command(email, signers_path),
    ]
    return FirstSigner(None, steps)


def _git_signing_key(repo: Any) -> str | None:
    """The public key git signs with, as one `TYPE BASE64 [COMMENT]` line, or None."""
    if (repo.config_value("gpg.format") or "").lower() != "ssh":
        return None
    key = repo.config_value("user.signingkey")
    if not key:
        return None
    literal = key.removeprefix("key::")
    if is_key_type(literal):
        return str(literal)
    path = os.path.expanduser(key)
    path = path if path.endswith(".pub") else path + ".pub"
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if is_key_type(text) and "\n" not in text else None
