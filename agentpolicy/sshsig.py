"""Reading SSH signatures (the SSHSIG armor) and git's allowed-signers / revocation files.

This is diagnosis, not verification: it tells *why* an entry will not count
(unknown key, wrong principal, wrong namespace, outside its window) so each
attack gets its own message. The cryptographic verdict always comes from
``ssh-keygen -Y verify`` as well (see ``signing``), so a parsing mistake here
can only make us stricter, never accept a forgery.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import fnmatch
import hashlib
import shlex
from dataclasses import dataclass

BEGIN = "-----BEGIN SSH SIGNATURE-----"
END = "-----END SSH SIGNATURE-----"


class SignatureFormatError(ValueError):
    """The armored block is not a readable SSHSIG signature."""


@dataclass(frozen=True)
class ParsedSignature:
    key_type: str
    key_blob: bytes
    namespace: str
    hash_algorithm: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key_blob)

    @property
    def is_certificate(self) -> bool:
        return "-cert-v01@openssh.com" in self.key_type


def fingerprint(key_blob: bytes) -> str:
    digest = base64.b64encode(hashlib.sha256(key_blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def _read_string(data: bytes, offset: int) -> tuple[bytes, int]:
    if offset + 4 > len(data):
        raise SignatureFormatError("signature is truncated")
    length = int.from_bytes(data[offset : offset + 4], "big")
    end = offset + 4 + length
    if end > len(data):
        raise SignatureFormatError("signature is truncated")
    return data[offset + 4 : end], end


def parse_signature(armored: str) -> ParsedSignature:
    text = armored.strip()
    if not text.startswith(BEGIN) or not text.endswith(END):
        raise SignatureFormatError("the signature block lacks the BEGIN/END SSH SIGNATURE lines")
    body = "".join(text[len(BEGIN) : -len(END)].split())
    try:
        blob = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureFormatError("the signature block is not valid base64") from None
    if not blob.startswith(b"SSHSIG") or len(blob) < 10:
        raise SignatureFormatError("the signature block is not an SSHSIG signature")
    if int.from_bytes(blob[6:10], "big") != 1:
        raise SignatureFormatError("unsupported SSHSIG version")
    key_blob, offset = _read_string(blob, 10)
    namespace, offset = _read_string(blob, offset)
    _reserved, offset = _read_string(blob, offset)
    hash_algorithm, offset = _read_string(blob, offset)
    signature, offset = _read_string(blob, offset)
    if offset != len(blob) or not signature:
        raise SignatureFormatError("the signature block has trailing or missing data")
    key_type, _ = _read_string(key_blob, 0)
    try:
        return ParsedSignature(
            key_type.decode("ascii"),
            key_blob,
            namespace.decode("utf-8"),
            hash_algorithm.decode("ascii"),
        )
    except UnicodeDecodeError:
        raise SignatureFormatError("the signature block has unreadable fields") from None


@dataclass(frozen=True)
class SignerLine:
    """One line of an allowed-signers file."""

    line: int
    principals: tuple[str, ...]
    key_type: str
    key_blob: bytes
    cert_authority: bool = False
    namespaces: tuple[str, ...] | None = None
    valid_after: dt.datetime | None = None
    valid_before: dt.datetime | None = None

    def matches_principal(self, email: str) -> bool:
        """git's semantics: comma-separated patterns, `*` and `?`, a leading `!` negates."""
        matched = False
        for pattern in self.principals:
            negate = pattern.startswith("!")
            if fnmatch.fnmatchcase(email, pattern.lstrip("!")):
                if negate:
                    return False
                matched = True
        return matched

    def allows_namespace(self, namespace: str) -> bool:
        return self.namespaces is None or any(
            fnmatch.fnmatchcase(namespace, pattern) for pattern in self.namespaces
        )

    def window_problem(self, when: dt.datetime) -> str | None:
        if self.valid_after and when < self.valid_after:
            return f"is valid only from {self.valid_after:%Y-%m-%d %H:%M:%S} UTC"
        if self.valid_before and when >= self.valid_before:
            return f"expired on {self.valid_before:%Y-%m-%d %H:%M:%S} UTC"
        return None


def _parse_time(value: str) -> dt.datetime:
    text = value.rstrip("Zz")
    formats = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}
    if len(text) not in formats:
        raise ValueError(f"bad time {value!r}")
    parsed = dt.datetime.strptime(text, formats[len(text)])
    if value.endswith(("Z", "z")):
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)  # no Z: local time, as ssh-keygen reads it


def _is_key_type(token: str) -> bool:
    return token.startswith(("ssh-", "ecdsa-", "sk-"))


def parse_allowed_signers(text: str) -> list[SignerLine]:
    """Lines we understand; lines we cannot read are skipped (ssh-keygen still decides)."""
    signers = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            tokens = shlex.split(stripped, posix=True)
        except ValueError:
            continue
        if len(tokens) < 3:
            continue
        principals = tuple(p for p in tokens[0].split(",") if p)
        index = 1
        options: list[str] = []
        while index < len(tokens) and not _is_key_type(tokens[index]):
            options.extend(part for part in tokens[index].split(",") if part)
            index += 1
        if index + 1 >= len(tokens):
            continue
        try:
            key_blob = base64.b64decode(tokens[index + 1], validate=True)
        except (binascii.Error, ValueError):
            continue
        signer = _with_options(SignerLine(number, principals, tokens[index], key_blob), options)
        if signer is not None:
            signers.append(signer)
    return signers


def _with_options(signer: SignerLine, options: list[str]) -> SignerLine | None:
    values: dict[str, object] = {}
    namespaces: list[str] = []
    for option in options:
        name, _, value = option.partition("=")
        name = name.lower()
        try:
            if name == "cert-authority":
                values["cert_authority"] = True
            elif name == "namespaces":
                namespaces.extend(value.split(","))
            elif name == "valid-after":
                values["valid_after"] = _parse_time(value)
            elif name == "valid-before":
                values["valid_before"] = _parse_time(value)
        except ValueError:
            return None
    if namespaces:
        values["namespaces"] = tuple(namespaces)
    return SignerLine(signer.line, signer.principals, signer.key_type, signer.key_blob, **values)  # type: ignore[arg-type]


def revoked_key_blobs(raw: bytes) -> set[bytes] | None:
    """Public keys listed in a plain revocation file; None for a binary KRL (ssh-keygen reads it)."""
    if raw.startswith(b"SSHKRL"):
        return None
    blobs = set()
    for line in raw.decode("utf-8", "replace").splitlines():
        tokens = line.split()
        for position, token in enumerate(tokens[:-1]):
            if _is_key_type(token):
                with contextlib.suppress(binascii.Error, ValueError):
                    blobs.add(base64.b64decode(tokens[position + 1], validate=True))
                break
    return blobs


_CERT_SUFFIX = "-cert-v01@openssh.com"
# How many length-prefixed public-key fields follow the nonce in each certificate type.
_CERT_KEY_FIELDS = {
    "ssh-ed25519": 1,
    "ssh-rsa": 2,
    "ssh-dss": 4,
    "ecdsa-sha2-nistp256": 2,
    "ecdsa-sha2-nistp384": 2,
    "ecdsa-sha2-nistp521": 2,
    "sk-ssh-ed25519@openssh.com": 2,
    "sk-ecdsa-sha2-nistp256@openssh.com": 3,
}


def _certificate_parts(key_blob: bytes) -> tuple[bytes, tuple[str, ...]] | None:
    """(the certified plain key blob, the certificate's principals), or None for a plain key."""
    try:
        cert_type, offset = _read_string(key_blob, 0)
        name = cert_type.decode("ascii")
        if not name.endswith(_CERT_SUFFIX):
            return None
        plain = name.removesuffix(_CERT_SUFFIX)
        _nonce, offset = _read_string(key_blob, offset)
        fields_start = offset
        for _ in range(_CERT_KEY_FIELDS[plain]):
            _field, offset = _read_string(key_blob, offset)
        fields = key_blob[fields_start:offset]
        offset += 8 + 4  # serial, type
        _key_id, offset = _read_string(key_blob, offset)
        packed, offset = _read_string(key_blob, offset)
    except (SignatureFormatError, UnicodeDecodeError, KeyError):
        return None
    principals, position = [], 0
    while position < len(packed):
        try:
            value, position = _read_string(packed, position)
        except SignatureFormatError:
            break
        principals.append(value.decode("utf-8", "replace"))
    plain_blob = len(plain).to_bytes(4, "big") + plain.encode("ascii") + fields
    return plain_blob, tuple(principals)


def key_identity(key_blob: bytes) -> bytes:
    """The key a signature counts as: a certificate counts as the public key it certifies."""
    parts = _certificate_parts(key_blob)
    return parts[0] if parts else key_blob


def certificate_principals(key_blob: bytes) -> tuple[str, ...] | None:
    """The principals a certificate names, or None for a plain key."""
    parts = _certificate_parts(key_blob)
    return parts[1] if parts else None
