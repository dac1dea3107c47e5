"""Reading an SSH signature's armor (SSHSIG): which key signed, in which namespace, with which hash.

``parse_signature`` is for diagnosis, so a refusal can name the key and the namespace;
the cryptographic verdict is ``sshverify``'s (or ssh-keygen's). The SSH readers are split
by what they read: ``sshwire`` (the encoding), ``sshkeys`` (keys and certificates),
``allowed_signers`` (the file, read to explain) and ``allowed_lines`` (the file, read
exactly as ssh-keygen does).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from agentpolicy.review.sshkeys import CERT_SUFFIX
from agentpolicy.review.sshwire import SignatureFormatError, read_string

BEGIN = "-----BEGIN SSH SIGNATURE-----"
END = "-----END SSH SIGNATURE-----"


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
        return CERT_SUFFIX in self.key_type


def fingerprint(key_blob: bytes) -> str:
    digest = base64.b64encode(hashlib.sha256(key_blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


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
    key_blob, offset = read_string(blob, 10)
    namespace, offset = read_string(blob, offset)
    _reserved, offset = read_string(blob, offset)
    hash_algorithm, offset = read_string(blob, offset)
    signature, offset = read_string(blob, offset)
    if offset != len(blob) or not signature:
        raise SignatureFormatError("the signature block has trailing or missing data")
    key_type, _ = read_string(key_blob, 0)
    try:
        return ParsedSignature(
            key_type.decode("ascii"),
            key_blob,
            namespace.decode("utf-8"),
            hash_algorithm.decode("ascii"),
        )
    except UnicodeDecodeError:
        raise SignatureFormatError("the signature block has unreadable fields") from None
