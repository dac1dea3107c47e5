"""Allowed-signers lines exactly as ssh-keygen reads them, for the in-process verdict.

A byte-for-byte port of the parts of OpenSSH (misc.c, match.c, authfile.c, sshsig.c)
that decide whether a line lets a key sign: quoting, options, patterns, dates. Where
the port cannot be sure (a local-time date, an odd encoding) it answers None and
ssh-keygen decides; a differential test holds ``sshverify``'s verdict, built on these
lines, equal to ``ssh-keygen -Y verify``.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass

from agentpolicy.review.sshkeys import ECDSA_CURVES, RSA, PublicKey

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
