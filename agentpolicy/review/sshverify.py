"""``ssh-keygen -Y verify``'s verdict, computed in process.

Why: one ssh-keygen process per review entry made 3,000 entries cost 33 s. This
module ports what OpenSSH 9.x does for ``-Y verify -f allowed -I principal -n
namespace -s sig [-r revoked] [-O verify-time=T]`` (sshsig.c, ssh-keygen.c,
authfile.c, misc.c, match.c) and checks the signature with ``cryptography``
(the same OpenSSL that ssh-keygen links, for ECDSA and RSA).

It answers True or False only where it knows ssh-keygen's answer exactly; for
anything it does not model (certificates, security keys, binary KRLs, unusual
encodings, dates glibc reads leniently) it answers None and the caller runs
ssh-keygen. A differential test (tests/test_sshverify_differential.py) compares
every answer with the real ssh-keygen.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import hashlib
import re
import time
from typing import Literal

from agentpolicy.review.allowed_lines import AllowedLine, allowed_lines, decode_b64, match_pattern_list
from agentpolicy.review.sshkeys import ECDSA_CURVES, ED25519, RSA, PublicKey, parse_plain_key
from agentpolicy.review.sshwire import SignatureFormatError, WireReader, ssh_string

BEGIN = b"-----BEGIN SSH SIGNATURE-----"
END = b"\n-----END SSH SIGNATURE-----"
# Ed25519's group order: ssh-keygen's ref10 code reduces S modulo L, OpenSSL refuses S >= L.
_ED25519_ORDER = 2**252 + 27742317777372353535851937790883648493
_ED25519_FIELD = 2**255 - 19


def verify(
    payload: bytes,
    armored_signature: str | bytes,
    principal: str,
    namespace: str,
    allowed_signers: bytes,
    revoked: bytes | None = None,
    at: dt.datetime | None = None,
) -> bool | None:
    """True/False exactly as ssh-keygen -Y verify would exit (0 / not 0); None: ask ssh-keygen."""
    if isinstance(armored_signature, str):
        armored_signature = armored_signature.encode("ascii", "replace")
    try:
        principal_bytes = principal.encode("utf-8", "surrogateescape")
        namespace_bytes = namespace.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return None
    if b"\0" in principal_bytes or b"\0" in namespace_bytes:
        return None  # cannot be passed on a command line at all
    if not namespace_bytes:
        return False  # "Too few arguments for verify: missing namespace"
    when = _verify_time(at)
    if when is None:
        return False  # ssh-keygen refuses the verify-time option
    blob = _dearmor(armored_signature)
    if blob is None or blob is False:
        return blob
    key = _check_signature(blob, payload, namespace_bytes)
    if key is None or key is False:
        return key
    if revoked is not None:
        is_revoked = _is_revoked(revoked, key)
        if is_revoked is not False:
            return None if is_revoked is None else False
    return _allowed(allowed_signers, key, principal_bytes, namespace_bytes, when)


def _verify_time(at: dt.datetime | None) -> int | None:
    if at is None:
        return int(time.time())
    stamp = at.astimezone(dt.UTC)
    if stamp.year < 1970:
        return None
    seconds = calendar.timegm(stamp.timetuple())
    return seconds if seconds > 0 else None


def _dearmor(data: bytes) -> bytes | Literal[False] | None:
    """sshsig_dearmor: the header line, then base64 up to the first footer; the rest is ignored."""
    if data.startswith(BEGIN + b"\r\n"):
        return None  # refused before OpenSSH 9.6, accepted after
    if not data.startswith(BEGIN + b"\n"):
        return False
    end = data.find(END, len(BEGIN) + 1)
    if end == -1:
        return False
    body = data[len(BEGIN) + 1 : end]
    nul = body.find(b"\0")
    if nul != -1:
        if nul != len(body) - 1:
            return False
        body = body[:-1]
    decoded = decode_b64(body)
    if decoded is None:
        return False
    blob, canonical = decoded
    return blob if canonical else None  # stray bits in the last group: left to ssh-keygen


def _check_signature(blob: bytes, payload: bytes, namespace: bytes) -> PublicKey | Literal[False] | None:
    """sshsig_verify_fd: the SSHSIG structure and the signature itself; the key on success."""
    reader = WireReader(blob)
    try:
        if blob[:6] != b"SSHSIG":
            return False
        reader.offset = 6
        if reader.u32() > 1:
            return False
        key_blob = reader.string()
        got_namespace = reader.cstring()
        reader.string()  # reserved: read, never checked
        hash_name = reader.cstring()
        signature = reader.string()
    except SignatureFormatError:
        return False
    if reader.remaining or hash_name not in (b"sha256", b"sha512") or got_namespace != namespace:
        return False
    key = parse_plain_key(key_blob)
    if key is None:
        return None
    digest = hashlib.new(hash_name.decode(), payload).digest()
    signed = b"SSHSIG" + ssh_string(namespace) + ssh_string(b"") + ssh_string(hash_name) + ssh_string(digest)
    verdict = _crypto_verify(key, signature, signed)
    return key if verdict else verdict


def _crypto_verify(key: PublicKey, signature: bytes, signed: bytes) -> bool | None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

    reader = WireReader(signature)
    try:
        if not signature:
            return False
        algorithm = reader.cstring().decode("ascii", "replace")
        if key.name == ED25519:
            raw = reader.string()
            if reader.remaining or algorithm != ED25519 or len(raw) != 64:
                return False
            y = int.from_bytes(key.material, "little") & ((1 << 255) - 1)
            if y >= _ED25519_FIELD or y in (1, _ED25519_FIELD - 1):
                return None  # non-canonical or small-order point: libraries differ
            if raw[63] & 0xE0:
                return False
            s = int.from_bytes(raw[32:], "little") % _ED25519_ORDER
            ed_key = ed25519.Ed25519PublicKey.from_public_bytes(key.material)
            ed_key.verify(raw[:32] + s.to_bytes(32, "little"), signed)
        elif key.name in ECDSA_CURVES:
            inner = WireReader(reader.string())
            if reader.remaining or algorithm != key.name:
                return False
            r, s = inner.mpint(), inner.mpint()
            if inner.remaining:
                return False
            curve: ec.EllipticCurve = {
                "nistp256": ec.SECP256R1(),
                "nistp384": ec.SECP384R1(),
                "nistp521": ec.SECP521R1(),
            }[ECDSA_CURVES[key.name]]
            if not _ec_point_acceptable(key.material, curve):
                return None
            ec_key = ec.EllipticCurvePublicKey.from_encoded_point(curve, key.material)
            chosen: hashes.HashAlgorithm = {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[
                curve.key_size
            ]
            ec_key.verify(utils.encode_dss_signature(r, s), signed, ec.ECDSA(chosen))
        elif key.name == RSA:
            if algorithm not in ("rsa-sha2-256", "rsa-sha2-512"):
                return False  # ssh-rsa (SHA-1) is refused for SSHSIG, as ssh-keygen does
            raw = reader.string()
            size = len(key.material)
            if reader.remaining or not raw or len(raw) > size:
                return False
            rsa_key = rsa.RSAPublicNumbers(key.rsa_exponent, int.from_bytes(key.material, "big")).public_key()
            rsa_hash: hashes.HashAlgorithm = hashes.SHA512()
            if algorithm == "rsa-sha2-256":
                rsa_hash = hashes.SHA256()
            rsa_key.verify(raw.rjust(size, b"\0"), signed, padding.PKCS1v15(), rsa_hash)
        else:
            return None
    except InvalidSignature:
        return False
    except SignatureFormatError:
        return False
    except ValueError:
        return None
    return True


def _ec_point_acceptable(point: bytes, curve: object) -> bool:
    """sshkey_ec_validate_public's extra rules; points it refuses are left to ssh-keygen."""
    orders = {
        "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
        "secp384r1": int(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
            "C7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
            16,
        ),
        "secp521r1": int(
            "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
            16,
        ),
    }
    order = orders[getattr(curve, "name", "")]
    half = len(point) // 2
    x = int.from_bytes(point[1 : 1 + half], "big")
    y = int.from_bytes(point[1 + half :], "big")
    limit = order.bit_length() // 2
    return x.bit_length() > limit and y.bit_length() > limit and x < order - 1 and y < order - 1


def _is_revoked(revoked: bytes, key: PublicKey) -> bool | None:
    """sshkey_check_revoked on a plain list of keys.

    ssh-keygen stops at the first listed key equal to the signer's, or at the first line
    it cannot read, and either way the verification fails; so one match anywhere is a
    definite "revoked", and any line we do not model leaves the answer to ssh-keygen.
    """
    if revoked.startswith(b"SSHKRL\n\0"):
        return None  # a binary KRL
    undecided = False
    for raw in revoked.split(b"\n"):
        line = raw.split(b"\0", 1)[0].lstrip(b" \t")
        if not line or line.startswith(b"#"):
            continue
        listed = _read_plain_key(line)
        if listed is not None and listed.blob == key.blob:
            return True
        undecided = undecided or listed is None
    return None if undecided else False


def _read_plain_key(line: bytes) -> PublicKey | None:
    """sshkey_read for a line holding a plain key verified in process; None for anything else."""
    match = re.match(rb"([^ \t]*)[ \t]+([^ \t]+)", line)
    decoded = decode_b64(match.group(2)) if match else None
    if match is None or decoded is None or not decoded[1]:
        return None
    key = parse_plain_key(decoded[0])
    name = match.group(1).decode("latin-1")
    same_type = key is not None and (
        name == key.name or (key.name == RSA and name in ("rsa-sha2-256", "rsa-sha2-512"))
    )
    return key if same_type else None


def _allowed(allowed: bytes, key: PublicKey, principal: bytes, namespace: bytes, when: int) -> bool | None:
    """sshsig_check_allowed_keys for a plain key: some line names the key, the principal and namespace."""
    undecided = False
    for line in _allowed_lines(allowed):
        if match_pattern_list(principal, line.principals) != 1:
            continue
        answer = line.accepts(key, namespace, when)
        if answer is True:
            return True
        undecided = undecided or answer is None
    return None if undecided else False


@functools.lru_cache(maxsize=16)
def _allowed_lines(allowed: bytes) -> tuple[AllowedLine, ...]:
    return tuple(allowed_lines(allowed))
