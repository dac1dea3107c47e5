"""`verify.sh`: the bundle re-verified by hand, with nothing but a POSIX shell, coreutils and ssh-keygen.

Every argument the script passes is a name this module generated (hex digests and
fixed words), never a string from the repository: reviewer addresses are read
from files at run time and handed to ssh-keygen as one quoted argument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SAFE = re.compile(r"[A-Za-z0-9._/-]+")

HEAD = r"""#!/bin/sh
# verify.sh: re-verify this agentpolicy evidence bundle without agentpolicy.
# Needs only a POSIX shell, coreutils (sha256sum, or shasum -a 256) and ssh-keygen.
# Run it from anywhere:  sh verify.sh
# It checks every file against manifest.json (sha256), that no file is unlisted, then every review entry's SSH
# signature against the allowed signers bundled with it (namespace agentpolicy-review,
# at the time the audit judged it). One line per item; exit status 0 only when all hold.
set -u
LC_ALL=C
export LC_ALL
here=$(dirname -- "$0") || exit 1
cd -- "$here" || exit 1
failed=0

if command -v sha256sum >/dev/null 2>&1; then
    check_sums() { sha256sum -c -- "$1"; }
elif command -v shasum >/dev/null 2>&1; then
    check_sums() { shasum -a 256 -c "$1"; }
else
    echo "FAIL  neither sha256sum nor shasum is on PATH"
    exit 1
fi
if ! command -v ssh-keygen >/dev/null 2>&1; then
    echo "FAIL  ssh-keygen is not on PATH"
    exit 1
fi
list=$(mktemp) || exit 1
results=$(mktemp) || exit 1
listed=$(mktemp) || exit 1
present=$(mktemp) || exit 1
trap 'rm -f -- "$list" "$results" "$listed" "$present"' EXIT

# A name from the manifest is used only if it is a plain relative path inside the bundle.
plain_name() {
    case "$1" in
        '' | /* | *..* | *[!A-Za-z0-9._/-]*) return 1 ;;
    esac
    return 0
}

# 1. every file against manifest.json: one sha256sum run over the list the manifest gives
in_files=0
files_seen=0
while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
        '  "files": {') in_files=1; continue ;;
        '  }'*) in_files=0; continue ;;
    esac
    [ "$in_files" = 1 ] || continue
    rest=${line#'    "'}
    name=${rest%%'"'*}
    want=${rest#*'": "'}
    want=${want%%'"'*}
    case "$want" in
        *[!0-9a-f]*) want=bad ;;
    esac
    if [ "${#want}" -ne 64 ] || ! plain_name "$name"; then
        echo "FAIL  manifest.json: a malformed line in \"files\""
        failed=1
        continue
    fi
    files_seen=$((files_seen + 1))
    printf '%s  %s\n' "$want" "$name" >> "$list"
    printf '%s\n' "$name" >> "$listed"
done < manifest.json
if [ "$files_seen" -eq 0 ]; then
    echo "FAIL  manifest.json lists no files"
    failed=1
fi
check_sums "$list" > "$results" 2> /dev/null || failed=1
while IFS= read -r line; do
    case "$line" in
        *': OK') echo "ok    file ${line%': OK'}" ;;
        *': FAILED open or read') echo "FAIL  file ${line%': FAILED open or read'} is missing"; failed=1 ;;
        *': FAILED') echo "FAIL  file ${line%': FAILED'} was altered"; failed=1 ;;
    esac
done < "$results"

# 2. nothing in the bundle that the manifest does not list (an added statement would otherwise
# be read as evidence): every name two levels deep, hidden ones too; a deeper folder is extra
note_present() {
    if plain_name "$1"; then
        printf '%s\n' "$1" >> "$present"
    else
        echo "FAIL  file with an unexpected name is not listed in manifest.json"
        failed=1
    fi
}
for top in * .[!.]* ..?*; do
    [ -e "$top" ] || [ -L "$top" ] || continue
    [ "$top" = manifest.json ] && continue
    if [ -d "$top" ] && [ ! -L "$top" ]; then
        for inner in "$top"/* "$top"/.[!.]* "$top"/..?*; do
            [ -e "$inner" ] || [ -L "$inner" ] || continue
            note_present "$inner"
        done
    else
        note_present "$top"
    fi
done
sort -u -o "$listed" "$listed"
sort -u -o "$present" "$present"
comm -13 "$listed" "$present" > "$results"
while IFS= read -r name; do
    echo "FAIL  file $name is not listed in manifest.json"
    failed=1
done < "$results"

# check_signature ENTRY SIGNERS REVOKED TIME: ENTRY.payload holds exactly the signed bytes,
# ENTRY.sig the armored signature, ENTRY.principal the reviewer's e-mail address.
check_signature() {
    entry=$1
    signers=$2
    revoked=$3
    at=$4
    if ! principal=$(cat -- "$entry.principal"); then
        echo "FAIL  signature $entry.sig: $entry.principal is missing"
        failed=1
        return
    fi
    if [ -n "$revoked" ]; then
        set -- -r "$revoked"
    else
        set --
    fi
    if ssh-keygen -Y verify -f "$signers" -I "$principal" -n agentpolicy-review \
        -s "$entry.sig" -O "verify-time=$at" "$@" < "$entry.payload" > /dev/null 2>&1; then
        echo "ok    signature $entry.sig (allowed signers $signers)"
    else
        echo "FAIL  signature $entry.sig does not verify against $signers"
        failed=1
    fi
}

unsigned() {
    echo "FAIL  entry $1 is unsigned (accepted only because require_signatures was false): nothing to verify"
    failed=1
}

"""

TAIL = r"""
# the manifest's own digest: compare it with the one you recorded when you received the bundle
if command -v sha256sum >/dev/null 2>&1; then
    pinned=$(sha256sum manifest.json | cut -d ' ' -f 1)
else
    pinned=$(shasum -a 256 manifest.json | cut -d ' ' -f 1)
fi
echo "manifest.json sha256 $pinned (compare it with the digest you were given)"
if [ "$failed" -eq 0 ]; then
    echo "verified: every file matches manifest.json and every signature holds"
else
    echo "NOT verified: see the FAIL lines above"
fi
exit "$failed"
"""


@dataclass(frozen=True)
class SignatureCheck:
    """One `ssh-keygen -Y verify` run: every field is a bundle name or a time we wrote."""

    entry: str  # bundle path without extension, e.g. entries/3f2a...
    signers: str  # bundle path of the allowed-signers file
    revoked: str  # bundle path of the revocation file, or ""
    at: str  # YYYYMMDDHHMMSSZ
    signed: bool = True


def render_verify_script(checks: list[SignatureCheck]) -> str:
    lines = []
    for check in checks:
        for value in (check.entry, check.signers, check.revoked, check.at):
            if value and not _SAFE.fullmatch(value):  # never a repository string: a bug if so
                raise ValueError(f"unsafe name in verify.sh: {value!r}")
        if not check.signed:
            lines.append(f"unsigned '{check.entry}'")
            continue
        lines.append(f"check_signature '{check.entry}' '{check.signers}' '{check.revoked}' '{check.at}'")
    return HEAD + "\n".join(lines) + ("\n" if lines else "") + TAIL
