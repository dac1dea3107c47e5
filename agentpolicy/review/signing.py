"""SSH signing and verification of review entries, with ``ssh-keygen -Y``.

Why ssh-keygen: it is what git itself uses for SSH-signed commits, so every
key type a reviewer already signs commits with works (ed25519, RSA, ECDSA,
FIDO `-sk` keys, certificates, keys held in ssh-agent), and its verdict has the
full allowed-signers semantics (principals, namespaces, validity windows,
revocation). ``sshsig`` only explains a refusal; ssh-keygen must also agree
before an entry counts. Which signers are in force, and the verdict on an
entry, are ``trust``'s; this module only runs (or stands in for) ssh-keygen.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import tempfile

from agentpolicy.errors import SigningError

NAMESPACE = "agentpolicy-review"


def ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if not found:
        raise SigningError(
            "ssh-keygen was not found on PATH",
            "install OpenSSH's client tools (Debian/Ubuntu: apt-get install openssh-client)",
        )
    return found


def sign(payload: bytes, key: str, *, key_in_agent: bool = False) -> str:
    """An armored SSHSIG over ``payload`` in our namespace, made by ``ssh-keygen -Y sign``."""
    command = [ssh_keygen(), "-Y", "sign", "-n", NAMESPACE, "-f", key, "-q"]
    if key_in_agent:
        command.insert(3, "-U")
    try:
        done = subprocess.run(command, input=payload, capture_output=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        raise SigningError(
            "ssh-keygen did not finish signing within 120 s",
            "is it waiting for a passphrase or a security-key touch?",
        ) from None
    if done.returncode != 0 or b"BEGIN SSH SIGNATURE" not in done.stdout:
        problem = done.stderr.decode("utf-8", "replace").strip() or "unknown error"
        if not key_in_agent and (b"passphrase" in done.stderr or _needs_passphrase(key)):
            raise SigningError(
                f"cannot sign with {key}: the key is protected by a passphrase that ssh-keygen "
                "could not ask for (no terminal and no ssh-agent holding it)",
                f"load it into ssh-agent once with `ssh-add {key}`, then pass the public key: "
                f"--key {key}.pub",
            )
        raise SigningError(
            f"ssh-keygen could not sign with {key}: {problem}",
            "pass a private key (or a public key whose private half is in ssh-agent) with --key",
        )
    return done.stdout.decode("ascii").strip() + "\n"


def _needs_passphrase(key: str) -> bool:
    """True when the private key file is encrypted (OpenSSH format with a cipher, or an
    encrypted PEM key): only ssh-agent, or a terminal to type into, can unlock it."""
    import base64
    import binascii

    try:
        with open(key, "rb") as handle:
            text = handle.read(64 * 1024)
    except OSError:
        return False
    if b"ENCRYPTED" in text.split(b"\n\n", 1)[0]:
        return True  # PEM: "Proc-Type: 4,ENCRYPTED" or "BEGIN ENCRYPTED PRIVATE KEY"
    lines = text.strip().splitlines()
    if not lines or lines[0].strip() != b"-----BEGIN OPENSSH PRIVATE KEY-----":
        return False
    try:
        body = base64.b64decode(b"".join(line.strip() for line in lines[1:-1]))
    except (binascii.Error, ValueError):
        return False
    magic = b"openssh-key-v1\0"
    if not body.startswith(magic) or len(body) < len(magic) + 4:
        return False
    size = int.from_bytes(body[len(magic) : len(magic) + 4], "big")
    return body[len(magic) + 4 : len(magic) + 4 + size] != b"none"


def verify_with_ssh_keygen(
    payload: bytes,
    signature: str,
    email: str,
    allowed_signers: bytes,
    revoked: bytes | None = None,
    at: dt.datetime | None = None,
) -> bool:
    """ssh-keygen's own verdict: principal, namespace, window (at ``at``, else now), revocation.

    Computed in process (``sshverify``, proven equal to ssh-keygen by a differential
    test) where it can be; ssh-keygen itself runs only for what that does not model.
    """
    from agentpolicy.review import sshverify

    in_process = sshverify.verify(payload, signature, email, NAMESPACE, allowed_signers, revoked, at)
    if in_process is not None:
        return in_process
    if "\0" in email:
        return False  # no process can be given it, and no allowed-signers line can name it
    with tempfile.TemporaryDirectory(prefix="agentpolicy-") as folder:
        files = {
            "entry.sig": signature.encode("ascii", "replace"),
            "allowed_signers": allowed_signers,
        }
        if revoked is not None:
            files["revoked"] = revoked
        for name, content in files.items():
            with open(os.path.join(folder, name), "wb") as handle:
                handle.write(content)
        command = [
            ssh_keygen(),
            "-Y",
            "verify",
            "-f",
            os.path.join(folder, "allowed_signers"),
            "-I",
            email,
            "-n",
            NAMESPACE,
            "-s",
            os.path.join(folder, "entry.sig"),
        ]
        if revoked is not None:
            command += ["-r", os.path.join(folder, "revoked")]
        if at is not None:
            command += ["-O", f"verify-time={at.astimezone(dt.UTC):%Y%m%d%H%M%S}Z"]
        done = subprocess.run(command, input=payload, capture_output=True, timeout=60, check=False)
        return done.returncode == 0
