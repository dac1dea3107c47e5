"""Reading git's allowed-signers and revocation files to explain a refusal.

``parse_allowed_signers`` is for diagnosis: it tells *why* an entry will not count (an
unknown key, a wrong principal, a wrong namespace, outside its window), so each attack
gets its own message. It is lenient (a line it cannot read is skipped) because it never
decides: ssh-keygen, or ``sshverify`` on ``allowed_lines``, gives the verdict.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import fnmatch
import shlex
from dataclasses import dataclass

from agentpolicy.review.sshkeys import is_key_type


@dataclass(frozen=True)
class SignerLine:
    """One line of an allowed-signers file."""

    line: int
    principals: tuple[str, ...]
    key_type: str
    key_blob: bytes
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
        while index < len(tokens) and not is_key_type(tokens[index]):
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
            if name == "namespaces":
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
            if is_key_type(token):
                with contextlib.suppress(binascii.Error, ValueError):
                    blobs.add(base64.b64decode(tokens[position + 1], validate=True))
                break
    return blobs
