"""Verifying 3,000 signed review entries: in process (sshverify) against one ssh-keygen each.

Keys are real ssh-keygen keys (20 reviewers: ed25519, ECDSA P-256 and RSA 3072); the
3,000 entries are SSHSIG signatures over distinct payloads, made with those keys by
``cryptography`` so that building them takes seconds, not the minutes 3,000 runs of
``ssh-keygen -Y sign`` would. Every entry is verified through
``signing.verify_with_ssh_keygen`` (what a check calls), against an allowed-signers file
listing all 20 reviewers with namespaces and validity windows. The ssh-keygen figure is
timed on a sample and scaled. Target (issue 13, item 18): 3,000 entries in under 5 s.

    python benchmarks/bench_signatures.py [--entries 3000] [--sample 100]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentpolicy.review import signing, sshverify
from agentpolicy.review.sshwire import ssh_mpint, ssh_string

KINDS = [("ed25519", []), ("ecdsa", ["-b", "256"]), ("rsa", ["-b", "3072"])]


def make_keys(folder: Path, count: int) -> list[tuple[str, object, str]]:
    """(e-mail, private key, public line) for `count` reviewers, cycling through key types."""
    keys = []
    for number in range(count):
        kind, bits = KINDS[number % len(KINDS)]
        path = folder / f"reviewer{number}"
        subprocess.run(["ssh-keygen", "-q", "-t", kind, *bits, "-N", "", "-f", str(path)], check=True)
        private = serialization.load_ssh_private_key(path.read_bytes(), None)
        public = " ".join(path.with_suffix(".pub").read_text().split()[:2])
        keys.append((f"reviewer{number}@example.com", private, public))
    return keys


def sign(private: object, public_line: str, payload: bytes) -> str:
    """An armored SSHSIG, as ssh-keygen -Y sign writes it."""
    digest = hashlib.sha512(payload).digest()
    namespace = signing.NAMESPACE.encode()
    signed = b"SSHSIG" + ssh_string(namespace) + ssh_string(b"") + ssh_string(b"sha512") + ssh_string(digest)
    if isinstance(private, ed25519.Ed25519PrivateKey):
        raw = ssh_string(b"ssh-ed25519") + ssh_string(private.sign(signed))
    elif isinstance(private, ec.EllipticCurvePrivateKey):
        r, s = utils.decode_dss_signature(private.sign(signed, ec.ECDSA(hashes.SHA256())))
        raw = ssh_string(b"ecdsa-sha2-nistp256") + ssh_string(ssh_mpint(r) + ssh_mpint(s))
    else:
        assert isinstance(private, rsa.RSAPrivateKey)
        raw = ssh_string(b"rsa-sha2-512") + ssh_string(
            private.sign(signed, padding.PKCS1v15(), hashes.SHA512())
        )
    import base64

    key_blob = base64.b64decode(public_line.split()[1])
    blob = b"SSHSIG" + (1).to_bytes(4, "big") + ssh_string(key_blob) + ssh_string(namespace)
    blob += ssh_string(b"") + ssh_string(b"sha512") + ssh_string(raw)
    body = base64.b64encode(blob).decode()
    lines = "\n".join(body[i : i + 70] for i in range(0, len(body), 70))
    return f"-----BEGIN SSH SIGNATURE-----\n{lines}\n-----END SSH SIGNATURE-----\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=3000)
    parser.add_argument("--sample", type=int, default=100, help="entries timed through ssh-keygen")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        keys = make_keys(Path(folder), 20)
    allowed = "".join(
        f'{email} namespaces="{signing.NAMESPACE}",valid-after="20200101Z",valid-before="20991231Z" {line}\n'
        for email, _, line in keys
    ).encode()
    entries = []
    for number in range(args.entries):
        email, private, public = keys[number % len(keys)]
        payload = f"agent: agent-{number}\ndigest: sha256:{number:064x}\nreviewer: {email}\n".encode()
        entries.append((payload, sign(private, public, payload), email))
    at = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)

    start = time.perf_counter()
    verdicts = [signing.verify_with_ssh_keygen(p, s, e, allowed, None, at) for p, s, e in entries]
    in_process = time.perf_counter() - start
    assert all(verdicts), "every entry must verify"
    decided = sum(
        sshverify.verify(p, s, e, signing.NAMESPACE, allowed, None, at) is not None for p, s, e in entries
    )

    start = time.perf_counter()
    for payload, signature, email in entries[: args.sample]:
        assert _ssh_keygen(payload, signature, email, allowed, at)
    per_process = (time.perf_counter() - start) / args.sample

    print(f"entries: {args.entries} (20 reviewers: ed25519, ECDSA P-256, RSA 3072)")
    print(f"decided in process: {decided}/{args.entries}")
    print(f"signing.verify_with_ssh_keygen, all entries: {in_process:.2f} s (target < 5 s)")
    scaled = per_process * args.entries
    print(f"one ssh-keygen process each: {per_process * 1000:.1f} ms/entry, {scaled:.1f} s scaled")


def _ssh_keygen(payload: bytes, signature: str, email: str, allowed: bytes, at: dt.datetime) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "sig").write_text(signature)
        Path(folder, "allowed").write_bytes(allowed)
        command = ["ssh-keygen", "-Y", "verify", "-f", f"{folder}/allowed", "-I", email]
        command += ["-n", signing.NAMESPACE, "-s", f"{folder}/sig", "-O", f"verify-time={at:%Y%m%d%H%M%S}Z"]
        return subprocess.run(command, input=payload, capture_output=True, check=False).returncode == 0


if __name__ == "__main__":
    main()
