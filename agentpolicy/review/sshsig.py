"""Reading SSH signatures (the SSHSIG armor), SSH public keys and git's allowed-signers / revocation files.

Two readers live here. ``parse_signature`` / ``parse_allowed_signers`` are for
diagnosis: they tell *why* an entry will not count (unknown key, wrong principal,
wrong namespace, outside its window) so each attack gets its own message. The
wire-format, key and ``allowed_lines`` readers below them follow OpenSSH's own
code byte for byte; ``sshverify`` builds the cryptographic verdict on them, and a
differential test holds that verdict equal to ``ssh-keygen -Y verify``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import fnmatch
import hashlib
import re
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
        when = when.replace(microsecond=0)  # ssh-keygen compares whole seconds, valid-before included
        if self.valid_after and when < self.valid_after:
            return f"is valid only from {self.valid_after:%Y-%m-%d %H:%M:%S} UTC"
        if self.valid_before and when > self.valid_before:
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


# --- SSH wire format and public keys -------------------------------------------------------------

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


class WireReader:
    """Reads the SSH wire encoding (RFC 4251) the way OpenSSH's sshbuf does, so edge cases agree."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.offset

    def u32(self) -> int:
        if self.remaining < 4:
            raise SignatureFormatError("truncated")
        value = int.from_bytes(self.data[self.offset : self.offset + 4], "big")
        self.offset += 4
        return value

    def u64(self) -> int:
        return (self.u32() << 32) | self.u32()

    def string(self) -> bytes:
        value, self.offset = _read_string(self.data, self.offset)
        return value

    def cstring(self) -> bytes:
        """sshbuf_get_cstring: a NUL is allowed only as the very last byte, and then ignored."""
        value = self.string()
        nul = value.find(b"\0")
        if nul != -1 and nul < len(value) - 1:
            raise SignatureFormatError("a text field holds a NUL byte")
        return value[:nul] if nul != -1 else value

    def mpint(self) -> int:
        """sshbuf_get_bignum2: non-negative, at most 16384 bits, leading zeros tolerated."""
        raw = self.string()
        if raw and raw[0] & 0x80:
            raise SignatureFormatError("negative number")
        if len(raw) > 2049 or (len(raw) == 2049 and raw[0] != 0):
            raise SignatureFormatError("number too large")
        return int.from_bytes(raw, "big")


def ssh_string(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


def ssh_mpint(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    if raw and raw[0] & 0x80:
        raw = b"\0" + raw
    return ssh_string(raw)


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


# --- allowed-signers lines exactly as ssh-keygen reads them ------------------------------------

_C_SPACE = b" \t\n\v\f\r"
_B64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_WHITESPACE = b" \t\r\n"
# Type names sshkey_read takes for the key types verified in process (rsa-sha2-* name RSA keys too).
_KEY_NAMES = frozenset({"ssh-ed25519", "ssh-rsa", "rsa-sha2-256", "rsa-sha2-512", *ECDSA_CURVES})


def decode_b64(text: bytes) -> tuple[bytes, bool] | None:
    """b64_pton as OpenSSH calls it: whitespace skipped, padding strict. (bytes, canonical) or None."""
    compact = bytes(byte for byte in text if byte not in _C_SPACE)
    if not _B64.fullmatch(compact):
        return None
    decoded = base64.b64decode(compact)
    return decoded, base64.b64encode(decoded) == compact


def match_pattern(string: bytes, pattern: bytes) -> bool:
    """match.c match_pattern: `*` any run, `?` one byte, everything else literal (no brackets)."""
    s = p = 0
    star, mark = -1, 0
    while s < len(string):
        if p < len(pattern) and pattern[p] == 0x2A:
            star, mark, p = p, s, p + 1
        elif p < len(pattern) and (pattern[p] == 0x3F or pattern[p] == string[s]):
            s, p = s + 1, p + 1
        elif star != -1:
            mark += 1
            s, p = mark, star + 1
        else:
            return False
    while p < len(pattern) and pattern[p] == 0x2A:
        p += 1
    return p == len(pattern)


def match_pattern_list(string: bytes, patterns: bytes) -> int:
    """match.c match_pattern_list: 1 a positive match, -1 a negated one matched, 0 neither."""
    got_positive = 0
    i = 0
    while i < len(patterns):
        negated = patterns[i] == 0x21
        if negated:
            i += 1
        end = patterns.find(b",", i)
        end = len(patterns) if end == -1 else end
        if end - i >= 1023:
            return 0  # OpenSSH gives up on a sub-pattern that does not fit its buffer
        if match_pattern(string, patterns[i:end]):
            if negated:
                return -1
            got_positive = 1
        i = end + 1
    return got_positive


@dataclass(frozen=True)
class SignerOptions:
    cert_authority: bool = False
    namespaces: bytes | None = None
    valid_after: int = 0
    valid_before: int = 0


@dataclass(frozen=True)
class AllowedLine:
    """One allowed-signers line as ssh-keygen parses it (only the parts a verdict needs)."""

    principals: bytes
    key_name: str
    key_text: bytes
    options: SignerOptions | bool | None  # False: refused by ssh-keygen; None: we cannot tell

    def accepts(self, key: PublicKey, namespace: bytes, when: int) -> bool | None:
        """check_allowed_keys_line for a plain signing key whose principal already matched."""
        same_family = self.key_name == key.name or (
            key.name == RSA and self.key_name in ("rsa-sha2-256", "rsa-sha2-512")
        )
        decoded = decode_b64(self.key_text) if same_family else None
        if decoded is None:
            return False
        blob, canonical = decoded
        if blob == key.blob and canonical:
            key_answer: bool | None = True
        elif key.material in blob:
            key_answer = None  # the same key written another way: ssh-keygen may still match it
        else:
            return False
        options = self.options
        if options is False or (isinstance(options, SignerOptions) and options.cert_authority):
            return False
        if isinstance(options, SignerOptions):
            if options.namespaces is not None and match_pattern_list(namespace, options.namespaces) != 1:
                return False
            if options.valid_after and when < options.valid_after:
                return False
            if options.valid_before and when > options.valid_before:
                return False
            return key_answer
        return None


def allowed_lines(text: bytes) -> list[AllowedLine]:
    """Every line ssh-keygen could use; blank, comment and unreadable lines never match."""
    lines = []
    pieces = text.split(b"\n")
    for number, piece in enumerate(pieces, start=1):
        if number == len(pieces) and not piece:
            break
        raw = piece + b"\n" if number < len(pieces) else piece
        line = _allowed_line(raw.split(b"\0", 1)[0])  # C strings end at the first NUL
        if line is not None:
            lines.append(line)
    return lines


def _allowed_line(line: bytes) -> AllowedLine | None:
    cursor = len(line) - len(line.lstrip(b" \t"))
    if cursor == len(line) or line[cursor] == 0x23:
        return None
    split = _strdelimw(line, cursor)
    if split is None:
        return None
    principals, cursor = split
    first = _key_token(line, cursor)
    if first is not None and first[0] in _KEY_NAMES:
        return AllowedLine(principals, first[0], first[1], SignerOptions())
    # Otherwise ssh-keygen reads options first. (A word naming another key type is no valid
    # option, so such a line never matches, whichever way ssh-keygen reads it.)
    stop = _past_options(line, cursor)
    if stop is None or stop >= len(line):
        return None
    options = line[cursor:stop]
    cursor = stop + 1
    while line[cursor : cursor + 1] in (b" ", b"\t"):
        cursor += 1
    second = _key_token(line, cursor)
    if second is None:
        return None
    return AllowedLine(principals, second[0], second[1], _signer_options(options))


def _strdelimw(line: bytes, start: int) -> tuple[bytes, int] | None:
    """misc.c strdelimw: a word, or a quoted run; None where ssh-keygen reports an invalid line."""
    for index in range(start, len(line)):
        if line[index] in _WHITESPACE or line[index] == 0x22:
            break
    else:
        return None  # no delimiter: ssh-keygen finds no key after the principals
    if line[index] == 0x22:
        close = line.find(b'"', index + 1)
        if close == -1:
            return None
        word, after = line[start:index] + line[index + 1 : close], close + 1
    else:
        word, after = line[start:index], index + 1
    while after < len(line) and line[after] in _WHITESPACE:
        after += 1
    return word, after


def _key_token(line: bytes, start: int) -> tuple[str, bytes] | None:
    """sshkey_read's first steps: a type name, blanks, then the base64 word; None if it fails."""
    match = re.match(rb"([^ \t]*)[ \t]+([^ \t]*)", line[start:])
    if match is None:
        return None
    name = match.group(1).decode("latin-1")
    if not match.group(2):
        return None
    return name, match.group(2)


def _past_options(line: bytes, start: int) -> int | None:
    """authfile.c sshkey_advance_past_options: to the first blank outside double quotes."""
    quoted = False
    index = start
    while index < len(line) and (quoted or line[index] not in b" \t"):
        if line[index] == 0x5C and line[index + 1 : index + 2] == b'"':
            index += 1
        elif line[index] == 0x22:
            quoted = not quoted
        index += 1
    return None if quoted and index >= len(line) else index


def _signer_options(text: bytes) -> SignerOptions | bool | None:
    """sshsig.c sshsigopt_parse. False: ssh-keygen refuses the line; None: a date we do not model."""
    values: dict[str, object] = {}
    index = 0
    while index < len(text) and text[index] not in b" \t":
        lowered = text[index:].lower()
        if lowered.startswith(b"cert-authority"):
            values["cert_authority"] = True
            index += len(b"cert-authority")
        else:
            for name in (b"namespaces", b"valid-after", b"valid-before"):
                if lowered.startswith(name + b"="):
                    field = name.decode().replace("-", "_")
                    if field in values:
                        return False  # the same clause twice
                    dequoted = _dequote(text, index + len(name) + 1)
                    if dequoted is None:
                        return False
                    value, index = dequoted
                    if name == b"namespaces":
                        values[field] = value
                    else:
                        stamp = _absolute_time(value)
                        if not stamp:
                            return None if stamp is None else False
                        values[field] = stamp
                    break
        if index >= len(text) or text[index] in b" \t":
            break
        if text[index] != 0x2C or index + 1 >= len(text):
            return False
        index += 1
    after, before = values.get("valid_after", 0), values.get("valid_before", 0)
    if after and before and before <= after:  # type: ignore[operator]
        return False
    return SignerOptions(**values)  # type: ignore[arg-type]


def _dequote(text: bytes, index: int) -> tuple[bytes, int] | None:
    if text[index : index + 1] != b'"':
        return None
    index += 1
    value = bytearray()
    while index < len(text) and text[index] != 0x22:
        if text[index] == 0x5C and text[index + 1 : index + 2] == b'"':
            index += 1
        value.append(text[index])
        index += 1
    if index >= len(text):
        return None
    return bytes(value), index + 1


def _absolute_time(value: bytes) -> int | None:
    """misc.c parse_absolute_time for UTC dates; 0 when ssh-keygen refuses, None when not modelled."""
    if len(value) > 1 and value[-1:] in (b"Z", b"z"):
        digits = value[:-1]
    elif len(value) > 3 and value[-3:].lower() == b"utc":
        digits = value[:-3]
    else:
        return None if len(value) in (8, 12, 14) else 0  # local time: left to ssh-keygen
    if len(digits) not in (8, 12, 14):
        return 0
    if not digits.isdigit():
        return None  # glibc's strptime skips blanks and more: not modelled
    padded = digits.decode() + "0" * (14 - len(digits))
    try:
        stamp = dt.datetime.strptime(padded, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    except ValueError:
        return None  # out-of-range fields are normalised or refused by libc
    seconds = int(stamp.timestamp())
    return seconds if seconds > 0 else 0
