"""Malformed agent files: each is a finding with the file name and exit 1, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import AGENTPOLICY, BILLING, clean_env, run

ALIAS_BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n"
    for i in range(9)
)

MALFORMED: dict[str, tuple[bytes, str]] = {
    "syntax-error": (b"name: [unclosed\n", "invalid YAML"),
    "bad-indentation": (b"a:\n  b: 1\n c: 2\n", "invalid YAML"),
    "duplicate-top-level-key": (BILLING.encode() + b"name: other\n", "duplicate key 'name'"),
    "duplicate-nested-key": (
        BILLING.replace(
            "  email: anna.nowak@example.com\n", "  email: anna.nowak@example.com\n  name: Bob\n"
        ).encode(),
        "duplicate key 'name'",
    ),
    "tab-indentation": (b"owner:\n\tname: x\n", "tabs"),
    "twenty-megabytes": (
        b"description: " + b"x" * (20 * 1024 * 1024) + b"\n",
        "larger than the limit",
    ),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "NUL bytes"),
    "utf16-with-bom": ("name: x\n".encode("utf-16"), "UTF-16"),
    "invalid-utf8": (b"name: caf\xe9\n", "not valid UTF-8"),
    "version-as-float": (
        BILLING.replace("version: 1.4.0", "version: 1.10").encode(),
        'quote the value: version: "1.10.0"',
    ),
    "action-as-boolean": (
        BILLING.replace("action: send-notifications", "action: no").encode(),
        'quote the value: action: "no"',
    ),
    "action-as-date": (
        BILLING.replace("action: send-notifications", "action: 2026-01-01").encode(),
        "not a date",
    ),
    "python-object-tag": (b"name: !!python/object/apply:os.system ['echo pwned']\n", "tag"),
    "binary-tag": (b"name: !!binary aGVsbG8=\n", "tag"),
    "unknown-local-tag": (b"name: !vault secret\n", "tag"),
    "multiple-documents": (
        BILLING.encode() + b"---\n" + BILLING.encode(),
        "more than one YAML document",
    ),
    "empty-file": (b"", "file is empty"),
    "only-comments": (b"# nothing here\n", "file is empty"),
    "null-document": (b"~\n", "mapping"),
    "top-level-list": (b"- name: x\n", "mapping"),
    "top-level-string": (b"just a string\n", "mapping"),
    "alias-bomb": (ALIAS_BOMB.encode(), "aliases"),
    "simple-alias": (b"a: &x {b: 1}\nc: *x\n", "aliases"),
    "merge-key": (b"base: &b {x: 1}\nother:\n  <<: *b\n", "merge keys"),
    "non-string-key": (b"1: one\n", "not a string"),
    "boolean-key": (b"yes: 1\n", "not a string"),
    "deep-nesting": (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nesting"),
    "nesting-over-our-limit": (b"a: " + b"[" * 100 + b"]" * 100 + b"\n", "nesting deeper than 64"),
    "unknown-apiversion": (
        BILLING.replace("agentpolicy/v1", "agentpolicy/v9").encode(),
        "apiVersion",
    ),
    "wrong-kind": (BILLING.replace("kind: Agent", "kind: Robot").encode(), "kind"),
    "uppercase-name": (
        BILLING.replace("name: billing-cycle", "name: Billing_Cycle").encode(),
        "name",
    ),
    "bad-stage": (BILLING.replace("stage: production", "stage: prod").encode(), "stage"),
    "unterminated-quote": (b'name: "billing\n', "invalid YAML"),
    "control-character": (b"name: a\x07b\n", "invalid YAML"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_agent_file_is_a_finding_with_the_file_name(tmp_path: Path, case: str) -> None:
    content, expected = MALFORMED[case]
    target = tmp_path / "agents" / f"{case}.yaml"
    target.parent.mkdir()
    target.write_bytes(content)
    done = run([AGENTPOLICY, "check", f"agents/{case}.yaml"], tmp_path, clean_env(tmp_path))
    assert done.code == 1, done.text
    assert f"agents/{case}.yaml:" in done.out
    assert expected in done.out
    assert "Traceback" not in done.text
    assert done.err == ""


def test_utf8_bom_and_crlf_line_endings_are_accepted(tmp_path: Path) -> None:
    target = tmp_path / "agent.yaml"
    target.write_bytes(b"\xef\xbb\xbf" + BILLING.replace("\n", "\r\n").encode())
    done = run([AGENTPOLICY, "check", "agent.yaml"], tmp_path, clean_env(tmp_path))
    assert done.code == 0, done.text


def test_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    done = run([AGENTPOLICY, "check", "nope.yaml"], tmp_path, clean_env(tmp_path))
    assert done.code == 2
    assert "nope.yaml" in done.err
