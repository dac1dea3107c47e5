"""The SSH wire encoding (RFC 4251), read the way OpenSSH's sshbuf reads it.

Signatures, public keys and certificates are all strings and numbers in this encoding;
one reader, shared by every parser in ``review``, keeps their edge cases (truncation, a
NUL inside a text field, an oversized or negative number) identical to OpenSSH's.
"""

from __future__ import annotations


class SignatureFormatError(ValueError):
    """The armored block is not a readable SSHSIG signature."""


def read_string(data: bytes, offset: int) -> tuple[bytes, int]:
    """One length-prefixed string at ``offset``, and the offset after it."""
    if offset + 4 > len(data):
        raise SignatureFormatError("signature is truncated")
    length = int.from_bytes(data[offset : offset + 4], "big")
    end = offset + 4 + length
    if end > len(data):
        raise SignatureFormatError("signature is truncated")
    return data[offset + 4 : end], end


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
        value, self.offset = read_string(self.data, self.offset)
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
