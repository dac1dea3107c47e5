"""The in-process verdict is ssh-keygen's verdict (issue 13, attack 18).

Every case runs the real ``ssh-keygen -Y verify`` and ``sshverify.verify`` on the same
inputs: the in-process answer must be None (ssh-keygen decides) or equal to it.
Signatures are real (``ssh-keygen -Y sign``), then mutated the ways an attacker would.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentpolicy.review import sshverify
from agentpolicy.review.sshkeys import ED25519, certificate_principals, key_identity
from agentpolicy.review.sshsig import parse_signature
from agentpolicy.review.sshwire import WireReader, ssh_mpint, ssh_string

NS = "agentpolicy-review"
PAYLOAD = b"agent: billing-cycle\ndigest: sha256:0123\n"
AT = dt.datetime(2030, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
KEY_TYPES = [("ed25519", []), ("ecdsa", ["-b", "256"]), ("ecdsa", ["-b", "384"]), ("ecdsa", ["-b", "521"])]
KEY_TYPES.append(("rsa", ["-b", "2048"]))


@dataclass(frozen=True)
class Signer:
    name: str
    private: Path
    public_line: str  # "type base64"

    def sign(self, payload: bytes = PAYLOAD, namespace: str = NS, *options: str) -> str:
        command = ["ssh-keygen", "-Y", "sign", "-q", "-n", namespace, "-f", str(self.private)]
        for option in options:
            command += ["-O", option]
        done = subprocess.run(command, input=payload, capture_output=True, check=True)
        return done.stdout.decode()


def _make(folder: Path, name: str, kind: str, bits: list[str]) -> Signer:
    private = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, *bits, "-N", "", "-C", "", "-f", str(private)], check=True
    )
    return Signer(name, private, " ".join(private.with_suffix(".pub").read_text().split()[:2]))


@pytest.fixture(scope="module")
def signers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Signer]:
    folder = tmp_path_factory.mktemp("sshverify")
    made = {
        f"{kind}{''.join(bits)}": _make(folder, f"k{i}", kind, bits)
        for i, (kind, bits) in enumerate(KEY_TYPES)
    }
    made["other"] = _make(folder, "other", "ed25519", [])
    ca = _make(folder, "ca", "ed25519", [])
    subprocess.run(
        [
            "ssh-keygen",
            "-q",
            "-s",
            str(ca.private),
            "-I",
            "id",
            "-n",
            "rev@example.com,ops@example.com",
            "-V",
            "20200101:20400101",
            str(made["other"].private) + ".pub",
        ],
        check=True,
    )
    cert = folder / "other-cert.pub"
    made["cert"] = Signer("cert", made["other"].private, " ".join(cert.read_text().split()[:2]))
    made["ca"] = ca
    return made


def ssh_keygen(
    payload: bytes,
    signature: bytes | str,
    principal: str,
    namespace: str,
    allowed: bytes,
    revoked: bytes | None,
    at: dt.datetime | None,
) -> bool:
    """The reference: ssh-keygen's exit status, exactly as signing.py ran it before."""
    if isinstance(signature, str):
        signature = signature.encode("ascii", "replace")
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "sig").write_bytes(signature)
        Path(folder, "allowed").write_bytes(allowed)
        command = [
            "ssh-keygen",
            "-Y",
            "verify",
            "-f",
            f"{folder}/allowed",
            "-I",
            principal,
            "-n",
            namespace,
            "-s",
            f"{folder}/sig",
        ]
        if revoked is not None:
            Path(folder, "revoked").write_bytes(revoked)
            command += ["-r", f"{folder}/revoked"]
        if at is not None:
            command += ["-O", f"verify-time={at.astimezone(dt.UTC):%Y%m%d%H%M%S}Z"]
        return subprocess.run(command, input=payload, capture_output=True, check=False).returncode == 0


def same_verdict(
    payload: bytes,
    signature: bytes | str,
    principal: str,
    allowed: bytes,
    revoked: bytes | None = None,
    at: dt.datetime | None = AT,
    namespace: str = NS,
) -> bool | None:
    """Asserts agreement; returns the in-process answer (None: fell back)."""
    ours = sshverify.verify(payload, signature, principal, namespace, allowed, revoked, at)
    theirs = ssh_keygen(payload, signature, principal, namespace, allowed, revoked, at)
    assert ours is None or ours == theirs, (ours, theirs, allowed, signature, principal, revoked, at)
    return ours


def rearmor(blob: bytes) -> str:
    body = base64.b64encode(blob).decode()
    lines = "\n".join(body[i : i + 70] for i in range(0, len(body), 70))
    return f"-----BEGIN SSH SIGNATURE-----\n{lines}\n-----END SSH SIGNATURE-----\n"


def sshsig_fields(armored: str) -> list[bytes]:
    text = armored.strip().splitlines()
    reader = WireReader(base64.b64decode("".join(text[1:-1])))
    reader.offset = 10
    return [reader.string() for _ in range(5)]


def build_sshsig(fields: list[bytes], version: int = 1, trailing: bytes = b"") -> str:
    return rearmor(
        b"SSHSIG" + version.to_bytes(4, "big") + b"".join(ssh_string(f) for f in fields) + trailing
    )


PLAIN = ["ed25519", "ecdsa-b256", "ecdsa-b384", "ecdsa-b521", "rsa-b2048"]


@pytest.mark.parametrize("name", PLAIN)
def test_attack_forged_entries_get_ssh_keygens_verdict_for_every_key_type(
    signers: dict[str, Signer], name: str
) -> None:
    signer, other = signers[name], signers["other"]
    good = signer.sign()
    line = f"rev@example.com {signer.public_line}\n".encode()
    # The honest case is decided in process, and accepted.
    assert same_verdict(PAYLOAD, good, "rev@example.com", line) is True
    assert same_verdict(PAYLOAD, signer.sign(PAYLOAD, NS, "hashalg=sha256"), "rev@example.com", line) is True
    cases: list[tuple[bytes, str, str, bytes]] = [
        (PAYLOAD + b"x", good, "rev@example.com", line),  # tampered payload
        (PAYLOAD, signer.sign(PAYLOAD, "git"), "rev@example.com", line),  # another namespace's signature
        (PAYLOAD, good, "dev@example.com", line),  # wrong principal
        (PAYLOAD, good, "rev@example.com", f"rev@example.com {other.public_line}\n".encode()),  # wrong key
        (PAYLOAD, other.sign(), "rev@example.com", line),  # signed by a key not listed
    ]
    for payload, signature, principal, allowed in cases:
        assert same_verdict(payload, signature, principal, allowed) is False
    assert same_verdict(PAYLOAD, good, "rev@example.com", line, namespace="git") is False


@pytest.mark.parametrize("name", PLAIN)
def test_attack_revoked_key_is_refused_as_ssh_keygen_refuses_it(
    signers: dict[str, Signer], name: str
) -> None:
    signer, other = signers[name], signers["other"]
    good = signer.sign()
    line = f"rev@example.com {signer.public_line}\n".encode()
    for revoked in (
        f"{signer.public_line} old laptop\n".encode(),
        f"# comment\n\n{other.public_line}\n{signer.public_line}\n".encode(),
        f"{other.public_line}\n".encode(),
        b"",
        b"# nothing revoked\n",
        b"not a key\n",
        f"{other.public_line}\ngarbage\n".encode(),
        b"SSHKRL\n\0garbage",
    ):
        same_verdict(PAYLOAD, good, "rev@example.com", line, revoked)
    assert same_verdict(PAYLOAD, good, "rev@example.com", line, f"{signer.public_line}\n".encode()) is False


def test_attack_mangled_armor_and_wire_format_get_ssh_keygens_verdict(signers: dict[str, Signer]) -> None:
    signer = signers["ed25519"]
    good = signer.sign()
    line = f"rev@example.com {signer.public_line}\n".encode()
    key_blob, namespace, reserved, hash_name, signature = sshsig_fields(good)
    variants = [
        good[:-40],  # truncated
        good.replace("A", "B", 1),  # garbled base64
        good + "trailing words after the footer\n",
        good.replace("\n", "\r\n"),
        good.replace("\n", "\r\n", 1),
        good.replace("\n", " \n"),
        "  " + good,
        good.replace("-----BEGIN SSH SIGNATURE-----\n", ""),
        good.replace("-----END SSH SIGNATURE-----", "-----END SSH SIGNATURE"),
        good.replace("=", ""),
        good[:40] + "\0" + good[40:],
        good + "\0",
        "",
        build_sshsig([key_blob, namespace, reserved, b"sha1", signature]),
        build_sshsig([key_blob, namespace, reserved, b"SHA512", signature]),
        build_sshsig([key_blob, namespace, reserved, hash_name + b"\0", signature]),
        build_sshsig([key_blob, namespace + b"\0", reserved, hash_name, signature]),
        build_sshsig([key_blob, namespace + b"\0x", reserved, hash_name, signature]),
        build_sshsig([key_blob, namespace, b"reserved", hash_name, signature]),
        build_sshsig([key_blob, namespace, reserved, hash_name, signature], trailing=b"\0"),
        build_sshsig([key_blob, namespace, reserved, hash_name, signature], version=0),
        build_sshsig([key_blob, namespace, reserved, hash_name, signature], version=2),
        build_sshsig([key_blob, namespace, reserved, hash_name, signature + b"\0"]),
        build_sshsig([key_blob, namespace, reserved, hash_name, signature[:-1]]),
        build_sshsig([key_blob + b"\0", namespace, reserved, hash_name, signature]),
        build_sshsig(
            [signers["other"].public_line.split()[1].encode(), namespace, reserved, hash_name, signature]
        ),
    ]
    assert same_verdict(PAYLOAD, variants[2], "rev@example.com", line) is True
    for variant in variants:
        same_verdict(PAYLOAD, variant, "rev@example.com", line)


def _ed25519_malleated(armored: str) -> str:
    """S + L: ssh-keygen's ref10 code reduces S modulo L and accepts; OpenSSL alone would refuse."""
    key_blob, namespace, reserved, hash_name, signature = sshsig_fields(armored)
    inner = WireReader(signature)
    inner.string()
    raw = inner.string()
    order = 2**252 + 27742317777372353535851937790883648493
    s = int.from_bytes(raw[32:], "little") + order
    raw = raw[:32] + s.to_bytes(32, "little")
    return build_sshsig(
        [key_blob, namespace, reserved, hash_name, ssh_string(ED25519.encode()) + ssh_string(raw)]
    )


def _rsa_signed_as(signer: Signer, algorithm: str, digest: hashes.HashAlgorithm) -> str:
    """An SSHSIG whose RSA signature uses ``algorithm``, made with the same private key."""
    private = serialization.load_ssh_private_key(signer.private.read_bytes(), None)
    assert isinstance(private, rsa.RSAPrivateKey)
    key_blob, namespace, reserved, hash_name, _ = sshsig_fields(signer.sign())
    import hashlib

    signed = b"SSHSIG" + ssh_string(namespace) + ssh_string(b"") + ssh_string(hash_name)
    signed += ssh_string(hashlib.new(hash_name.decode(), PAYLOAD).digest())
    raw = private.sign(signed, padding.PKCS1v15(), digest)
    return build_sshsig(
        [key_blob, namespace, reserved, hash_name, ssh_string(algorithm.encode()) + ssh_string(raw)]
    )


def test_attack_weak_or_malleated_signatures_get_ssh_keygens_verdict(signers: dict[str, Signer]) -> None:
    line = f"rev@example.com {signers['ed25519'].public_line}\n".encode()
    assert (
        same_verdict(PAYLOAD, _ed25519_malleated(signers["ed25519"].sign()), "rev@example.com", line)
        is not False
    )
    rsa_signer = signers["rsa-b2048"]
    rsa_line = f"rev@example.com {rsa_signer.public_line}\n".encode()
    # ssh-rsa (SHA-1) is refused, as ssh-keygen refuses it; rsa-sha2-256 and -512 are accepted.
    assert (
        same_verdict(
            PAYLOAD, _rsa_signed_as(rsa_signer, "ssh-rsa", hashes.SHA1()), "rev@example.com", rsa_line
        )
        is False
    )
    assert (
        same_verdict(
            PAYLOAD, _rsa_signed_as(rsa_signer, "rsa-sha2-256", hashes.SHA256()), "rev@example.com", rsa_line
        )
        is True
    )
    assert (
        same_verdict(
            PAYLOAD, _rsa_signed_as(rsa_signer, "rsa-sha2-512", hashes.SHA256()), "rev@example.com", rsa_line
        )
        is False
    )


def test_attack_certificate_signatures_fall_back_or_agree(signers: dict[str, Signer]) -> None:
    """Certificates are left to ssh-keygen (None), never judged differently."""
    cert, ca = signers["cert"], signers["ca"]
    signature = signers["cert"].sign() if False else _sign_with_cert(cert)
    for allowed, principal in (
        (f"*@example.com cert-authority {ca.public_line}\n", "rev@example.com"),
        (f"*@example.com cert-authority {ca.public_line}\n", "dev@example.com"),
        (f"rev@example.com {signers['other'].public_line}\n", "rev@example.com"),
        (f"rev@example.com {cert.public_line}\n", "rev@example.com"),
    ):
        same_verdict(PAYLOAD, signature, principal, allowed.encode())
    same_verdict(
        PAYLOAD,
        signature,
        "rev@example.com",
        f"*@example.com cert-authority {ca.public_line}\n".encode(),
        f"{signers['other'].public_line}\n".encode(),
    )


def _sign_with_cert(cert: Signer) -> str:
    command = ["ssh-keygen", "-Y", "sign", "-q", "-n", NS, "-f", str(cert.private) + "-cert.pub"]
    done = subprocess.run(command, input=PAYLOAD, capture_output=True, check=False)
    if done.returncode != 0:  # older ssh-keygen: sign with the key, certificate next to it
        done = subprocess.run(
            [*command[:-1], str(cert.private)], input=PAYLOAD, capture_output=True, check=True
        )
    return done.stdout.decode()


# --- generated allowed-signers files ----------------------------------------------------------

PRINCIPALS = st.sampled_from(
    [
        "rev@example.com",
        "*@example.com",
        "rev@*",
        "r?v@example.com",
        "!rev@example.com,*@example.com",
        "*@example.com,!dev@example.com",
        "dev@example.com,rev@example.com",
        '"rev@example.com"',
        "rev@example.com,",
        ",rev@example.com",
        "REV@example.com",
        "rev@example.co",
        "*",
        "!*",
        "rev@example.com*",
    ]
)
STAMPS = st.sampled_from(
    [
        "20300601120000Z",
        "20300601115959Z",
        "20300601120001Z",
        "203006011200Z",
        "20300601z",
        "20300602Z",
        "20300601120000UTC",
        "20300601120000",
        "2030060112000Z",
        "20300231000000Z",
        "2030 601120000Z",
        "19700101Z",
    ]
)
OPTION = st.one_of(
    st.sampled_from(["cert-authority", "CERT-AUTHORITY", "no-touch-required", "", 'foo="bar"']),
    st.builds(
        lambda v: f'namespaces="{v}"',
        st.sampled_from(
            [NS, "git", "agentpolicy-*", "git,agentpolicy-review", "!agentpolicy-review,*", "", 'a\\"b']
        ),
    ),
    st.builds(lambda v: f"namespaces={v}", st.sampled_from([NS, '"' + NS])),
    st.builds(lambda s: f'valid-after="{s}"', STAMPS),
    st.builds(lambda s: f'Valid-Before="{s}"', STAMPS),
)
LINE = st.tuples(
    st.sampled_from(["", " ", "\t", "#", "# "]),
    PRINCIPALS,
    st.lists(OPTION, max_size=3),
    st.sampled_from(["signer", "other", "signer-rsa-sha2", "signer-space", "signer-crlf", "none"]),
    st.sampled_from(["", " comment", "\r", "  trailing words"]),
)


def _render(line: tuple[str, str, list[str], str, str], signer: Signer, other: Signer) -> str:
    lead, principals, options, which, tail = line
    key = {
        "signer": signer.public_line,
        "other": other.public_line,
        "none": "",
        "signer-space": signer.public_line.replace(" ", " \t "),
        "signer-crlf": signer.public_line + "\r",
        "signer-rsa-sha2": signer.public_line.replace("ssh-rsa ", "rsa-sha2-512 "),
    }[which]
    opts = ",".join(options)
    return f"{lead}{principals} {opts + ' ' if opts else ''}{key}{tail}\n"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(LINE, min_size=1, max_size=4),
    key=st.sampled_from(["ed25519", "rsa-b2048", "ecdsa-b256"]),
    at_offset=st.sampled_from([None, -1, 0, 1, 86400]),
    principal=st.sampled_from(["rev@example.com", "dev@example.com", "rev@example.co"]),
)
def test_attack_allowed_signers_semantics_match_ssh_keygen(
    signers: dict[str, Signer], lines, key, at_offset, principal
) -> None:  # type: ignore[no-untyped-def]
    signer = signers[key]
    allowed = "".join(_render(line, signer, signers["other"]) for line in lines).encode()
    at = None if at_offset is None else AT + dt.timedelta(seconds=at_offset)
    same_verdict(PAYLOAD, _signature_cache(signer), principal, allowed, None, at)


_SIGNATURES: dict[str, str] = {}


def _signature_cache(signer: Signer) -> str:
    if signer.name not in _SIGNATURES:
        _SIGNATURES[signer.name] = signer.sign()
    return _SIGNATURES[signer.name]


# --- key identity for counting distinct keys (attack 3) ------------------------------------------


def test_key_identity_of_a_certificate_is_the_certified_key(signers: dict[str, Signer]) -> None:
    plain = base64.b64decode(signers["other"].public_line.split()[1])
    cert = base64.b64decode(signers["cert"].public_line.split()[1])
    assert key_identity(cert) == plain
    assert key_identity(plain) == plain
    assert certificate_principals(cert) == ("rev@example.com", "ops@example.com")
    assert certificate_principals(plain) is None
    assert key_identity(parse_signature(_sign_with_cert(signers["cert"])).key_blob) == plain


@pytest.mark.parametrize("name", PLAIN)
def test_attack_one_key_in_two_encodings_has_one_identity(signers: dict[str, Signer], name: str) -> None:
    blob = base64.b64decode(signers[name].public_line.split()[1])
    reader = WireReader(blob)
    kind = reader.string()
    if kind == b"ssh-rsa":
        e, n = reader.mpint(), reader.mpint()
        padded = (
            ssh_string(b"RSA") + ssh_string(b"\0" + ssh_mpint(e)[4:]) + ssh_string(b"\0\0" + ssh_mpint(n)[4:])
        )
        assert key_identity(padded) == blob
    elif kind == b"ssh-ed25519":
        assert key_identity(ssh_string(b"ED25519") + blob[len(kind) + 4 :]) == blob
    assert key_identity(blob) == blob
    assert (
        key_identity(blob) != key_identity(base64.b64decode(signers["other"].public_line.split()[1]))
        or name == "ed25519"
    )


def test_in_process_verdicts_need_no_ssh_keygen(
    signers: dict[str, Signer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The honest path never starts a process: with no ssh-keygen on PATH it still verifies."""
    from agentpolicy.review import signing

    good = signers["ed25519"].sign()
    line = f"rev@example.com {signers['ed25519'].public_line}\n".encode()
    monkeypatch.setenv("PATH", os.devnull)
    assert signing.verify_with_ssh_keygen(PAYLOAD, good, "rev@example.com", line, None, AT) is True
    assert signing.verify_with_ssh_keygen(PAYLOAD + b"x", good, "rev@example.com", line, None, AT) is False
