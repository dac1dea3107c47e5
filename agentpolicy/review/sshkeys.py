"""SSH public keys and certificates: their type names, canonical form and identity.

Which key types exist is said once, here (``KEY_TYPE_PREFIXES`` for "does this word
start a public key", the tables below for the keys verified in process). ``key_identity``
gives one value per key pair, so a reviewer cannot count twice with one key written two
ways; ``parse_plain_key`` accepts only keys written exactly as OpenSSH writes them, so an
unusual encoding is left to ssh-keygen and can never change a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentpolicy.review.sshwire import SignatureFormatError, WireReader, ssh_mpint, ssh_string

# What a public key's type name starts with (`ssh-ed25519 AAAA...`, `ecdsa-sha2-...`,
# `sk-ssh-ed25519@openssh.com`): how a key is told from options or a file path.
KEY_TYPE_PREFIXES = ("ssh-", "ecdsa-", "sk-")


def is_key_type(token: str) -> bool:
    """Whether ``token`` reads as an SSH key type name (the word before the base64 key)."""
    return token.startswith(KEY_TYPE_PREFIXES)


CERT_SUFFIX = "-cert-v01@openssh.com"
ED25519 = "ssh-ed25519"
RSA = "ssh-rsa"
ECDSA_CURVES = {
    "ecdsa-sha2-nistp256": "nistp256",
    "ecdsa-sha2-nistp384": "nistp384",
    "ecdsa-sha2-nistp521": "nistp521",
}
_CERT_PLAIN_NAMES = {
    "rsa-sha2-256-cert-v01@openssh.com": RSA,
    "rsa-sha2-512-cert-v01@openssh.com": RSA,
    "sk-ssh-ed25519-cert-v01@openssh.com": "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com": "sk-ecdsa-sha2-nistp256@openssh.com",
}
# Shape of each plain key's public fields: "s" a string, "m" an mpint (as OpenSSH writes them).
_PUBLIC_FIELDS = {
    ED25519: "s",
    RSA: "mm",
    "ssh-dss": "mmmm",
    "sk-ssh-ed25519@openssh.com": "ss",
    "sk-ecdsa-sha2-nistp256@openssh.com": "sss",
    **{name: "ss" for name in ECDSA_CURVES},
}


@dataclass(frozen=True)
class PublicKey:
    """A plain ed25519, ECDSA or RSA public key whose blob is in OpenSSH's canonical form."""

    name: str  # ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa
    blob: bytes
    material: bytes  # the bytes that make the key what it is: ed25519 point, EC point, RSA modulus
    rsa_exponent: int = 0


def parse_plain_key(blob: bytes) -> PublicKey | None:
    """The key, if ``blob`` is a plain key we verify in process and written exactly as OpenSSH writes it.

    None for anything else (certificates, security keys, DSA, unusual encodings): the
    caller then lets ssh-keygen decide, so an unusual encoding can never change a verdict.
    """
    reader = WireReader(blob)
    try:
        name = reader.string().decode("ascii")
        if name == ED25519:
            point = reader.string()
            key = PublicKey(name, blob, point) if len(point) == 32 else None
        elif name in ECDSA_CURVES:
            curve = reader.string()
            point = reader.string()
            size = {"nistp256": 32, "nistp384": 48, "nistp521": 66}[ECDSA_CURVES[name]]
            good = curve == ECDSA_CURVES[name].encode() and len(point) == 1 + 2 * size and point[0] == 4
            key = PublicKey(name, blob, point) if good else None
        elif name == RSA:
            exponent = reader.mpint()
            modulus = reader.mpint()
            good = 1024 <= modulus.bit_length() <= 16384 and modulus % 2 == 1
            good = good and exponent % 2 == 1 and 3 <= exponent < min(modulus, 1 << 64)
            material = modulus.to_bytes((modulus.bit_length() + 7) // 8, "big")
            key = PublicKey(name, blob, material, exponent) if good else None
        else:
            return None
    except (SignatureFormatError, UnicodeDecodeError):
        return None
    if key is None or reader.remaining or _canonical_blob(key) != blob:
        return None
    return key


def _canonical_blob(key: PublicKey) -> bytes:
    head = ssh_string(key.name.encode())
    if key.name == RSA:
        return head + ssh_mpint(key.rsa_exponent) + ssh_mpint(int.from_bytes(key.material, "big"))
    if key.name in ECDSA_CURVES:
        return head + ssh_string(ECDSA_CURVES[key.name].encode()) + ssh_string(key.material)
    return head + ssh_string(key.material)


@dataclass(frozen=True)
class Certificate:
    key_type: str
    certified_key: bytes  # the plain public key blob the certificate vouches for
    principals: tuple[str, ...]


def parse_certificate(blob: bytes) -> Certificate | None:
    """The certified key and principals of an OpenSSH certificate; None for a plain key."""
    reader = WireReader(blob)
    name = reader.string().decode("ascii", "replace")
    if not name.endswith(CERT_SUFFIX):
        return None
    plain = _CERT_PLAIN_NAMES.get(name, name[: -len(CERT_SUFFIX)])
    if plain not in _PUBLIC_FIELDS:
        raise SignatureFormatError(f"unknown certificate type {name!r}")
    reader.string()  # nonce
    fields = b"".join(
        ssh_mpint(reader.mpint()) if shape == "m" else ssh_string(reader.string())
        for shape in _PUBLIC_FIELDS[plain]
    )
    reader.u64()  # serial
    reader.u32()  # certificate type
    reader.string()  # key id
    listed = WireReader(reader.string())
    principals = []
    while listed.remaining:
        principals.append(listed.cstring().decode("utf-8", "replace"))
    return Certificate(name, ssh_string(plain.encode()) + fields, tuple(principals))


def key_identity(key_blob: bytes) -> bytes:
    """One value per key pair, so one key under two names or two encodings counts once.

    For a certificate: the certified key (the key that signs), not the certificate and
    not its CA. For a plain key: its canonical blob (OpenSSH also reads mpints with
    leading zeros and case-insensitive short type names, so those are normalised).
    """
    certificate = parse_certificate(key_blob)
    if certificate is not None:
        return certificate.certified_key
    reader = WireReader(key_blob)
    name = reader.string().decode("ascii", "replace")
    name = {"ed25519": ED25519, "rsa": RSA, "dsa": "ssh-dss"}.get(name.lower(), name)
    shape = _PUBLIC_FIELDS.get(name)
    if shape is None:
        return key_blob
    try:
        fields = b"".join(
            ssh_mpint(reader.mpint()) if part == "m" else ssh_string(reader.string()) for part in shape
        )
    except SignatureFormatError:
        return key_blob
    return ssh_string(name.encode()) + fields


def certificate_principals(key_blob: bytes) -> tuple[str, ...] | None:
    """The principals a certificate is valid for; None for a plain key."""
    certificate = parse_certificate(key_blob)
    return None if certificate is None else certificate.principals
