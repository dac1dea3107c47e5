"""Small things a new user hits in the first hour (issue 14): each test states what the user sees."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.helpers import (
    AGENTPOLICY,
    BILLING,
    GitRepo,
    Key,
    agent_yaml,
    check_findings,
    clean_env,
    guarded_repo,
    rule_ids,
    run,
)

SARIF_SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0.json").read_text())


# --- 1. Files we write honour the umask ------------------------------------------------------------


def _modes(folder: Path) -> dict[str, int]:
    return {
        str(path.relative_to(folder)): stat.S_IMODE(path.stat().st_mode)
        for path in folder.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(folder).parts
    }


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_every_file_init_new_approve_and_reports_write_honours_the_umask(
    tmp_path: Path, home: Path, keys: dict[str, Key], umask: int
) -> None:
    folder = tmp_path / "repo"
    folder.mkdir()
    env = clean_env(home)
    script = f"""
import os, subprocess, sys
os.umask({umask})
def ap(*args):
    done = subprocess.run([{AGENTPOLICY!r}, *args], capture_output=True, text=True)
    assert done.returncode in (0, 1), (args, done.stdout, done.stderr)
subprocess.run(["git", "init", "-q", "-b", "main"], check=True)
subprocess.run(["git", "config", "user.name", "Dev Author"], check=True)
subprocess.run(["git", "config", "user.email", "dev@example.com"], check=True)
ap("init")
with open(".agentpolicy/allowed_signers", "a") as signers:
    signers.write({keys["rev"].signer_line()!r} + "\\n")
ap("new", "pdf-extraction")
ap("approve", "pdf-extraction", "--reviewer", "Rev <rev@example.com>", "--key", {str(keys["rev"].private)!r})
ap("check", "-o", "json=check.json", "-o", "sarif=check.sarif")
subprocess.run(["git", "add", "-A"], check=True)
subprocess.run(["git", "commit", "-q", "--no-verify", "-m", "first"], check=True)
ap("audit", "--output", "audit.txt")
ap("status", "--output", "status.txt")
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=folder, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    modes = _modes(folder)
    for written in ("check.json", "audit.txt", "status.txt", "agents/pdf-extraction.yaml"):
        assert written in modes, sorted(modes)
    assert any(name.startswith("reviews/") and name.endswith(".yaml") for name in modes)
    wrong = {name: oct(mode) for name, mode in modes.items() if mode != 0o666 & ~umask}
    assert not wrong, f"umask {oct(umask)}: {wrong}"
    assert not [name for name in modes if ".agentpolicy-" in name]  # no temporary file left behind


def test_a_report_that_cannot_be_written_leaves_no_temporary_file_behind(tmp_path: Path) -> None:
    """A write that fails half-way (here: the disk is full) removes its temporary file."""
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full to simulate a full disk")
    from agentpolicy.errors import WriteError
    from agentpolicy.files import atomic

    folder = tmp_path / "out"
    folder.mkdir()
    real_fdopen = os.fdopen

    def full_disk(handle: int, *args: Any, **kwargs: Any) -> Any:
        os.dup2(os.open("/dev/full", os.O_WRONLY), handle)  # every write now fails with ENOSPC
        return real_fdopen(handle, *args, **kwargs)

    os.fdopen = full_disk  # type: ignore[assignment]
    try:
        with pytest.raises(WriteError, match="No space left"):
            atomic.replace_file(str(folder / "report.json"), b"x" * 1_000_000)
        with pytest.raises(WriteError, match="No space left"):
            atomic.write_new(str(folder / "entry.yaml"), b"x" * 1_000_000)
    finally:
        os.fdopen = real_fdopen
    assert list(folder.iterdir()) == []


def test_a_report_over_a_folder_fails_cleanly_without_a_temporary_file(tmp_path: Path, home: Path) -> None:
    work = tmp_path / "work"
    (work / "agents").mkdir(parents=True)
    (work / "agents" / "pdf.yaml").write_text(agent_yaml())
    (work / "report.json").mkdir()
    done = run([AGENTPOLICY, "check", "-o", "json=report.json", "agents"], work, clean_env(home))
    assert done.code == 2, done.text
    assert "report.json" in done.err and "Traceback" not in done.text
    assert sorted(p.name for p in work.iterdir()) == ["agents", "report.json"]


# --- 2. AP120 names the action ----------------------------------------------------------------------


def test_ap120_names_each_irreversible_autonomous_action(repo: GitRepo) -> None:
    text = agent_yaml().replace(
        "    - action: extract-fields\n",
        "    - action: extract-fields\n    - action: delete-source-pdfs\n      irreversible: true\n"
        "    - action: email-client\n      irreversible: true\n",
    )
    repo.write("agents/pdf.yaml", text)
    code, found = check_findings(repo, "agents")
    assert code == 1
    ap120 = [f for f in found if f["rule"] == "AP120"]
    assert len(ap120) == 2, found
    assert "delete-source-pdfs" in ap120[0]["message"] and "email-client" in ap120[1]["message"]
    assert ap120[0]["line"] == 12 and ap120[1]["line"] == 14  # each at its own action
    shown = repo.ap("check", "agents")
    assert "AP120 irreversible action `delete-source-pdfs` is autonomous" in shown.out


# --- 3. Merge conflicts and broken YAML -------------------------------------------------------------


def _conflicted(repo: GitRepo, keys: dict[str, Key]) -> GitRepo:
    guarded_repo(repo, keys)
    repo.git("checkout", "-q", "-b", "other")
    repo.write("agents/billing-cycle.yaml", BILLING.replace("monthly billing", "weekly billing"))
    repo.commit("weekly")
    repo.git("checkout", "-q", "main")
    repo.write("agents/billing-cycle.yaml", BILLING.replace("monthly billing", "daily billing"))
    repo.commit("daily")
    merged = subprocess.run(["git", "merge", "-q", "other"], cwd=repo.path, env=repo.env, capture_output=True)
    assert merged.returncode != 0 and "<<<<<<<" in repo.read("agents/billing-cycle.yaml")
    return repo


def test_an_agent_file_in_a_merge_conflict_is_reported_as_a_conflict(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    _conflicted(repo, keys)
    for args in ((), ("agents/billing-cycle.yaml",)):
        done = repo.ap("check", *args)
        assert done.code == 1, done.text
        assert "merge conflict in agents/billing-cycle.yaml: resolve it" in done.out, done.text
        assert "invalid YAML" not in done.out
        assert "deleted" not in done.out.lower()


def test_check_staged_during_an_unresolved_merge_names_the_conflict(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    _conflicted(repo, keys)
    done = repo.ap("check", "--staged")
    assert done.code in (1, 2), done.text
    assert "merge conflict in agents/billing-cycle.yaml" in done.text, done.text
    assert "resolve" in done.text and "Traceback" not in done.text
    assert "deleted" not in done.text.lower()


def test_an_agent_whose_yaml_broke_is_not_also_reported_as_deleted(
    repo: GitRepo, keys: dict[str, Key]
) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing-cycle.yaml", BILLING.replace("stage: production", "stage: [production"))
    for args in ((), ("--staged",)):
        repo.stage()
        code, found = check_findings(repo, *args)
        assert code == 1
        assert rule_ids(found) == {"AP001"}, found
        shown = repo.ap("check", *args)
        assert "delet" not in shown.text.lower(), shown.text
    repo.git("rm", "-q", "-f", "agents/billing-cycle.yaml")  # a real deletion is still a deletion
    code, found = check_findings(repo, "--staged")
    assert code == 1 and any("delet" in f["message"] for f in found), found


# --- 4. Suggested fixes are themselves valid --------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "replacement"),
    [
        ("version: 1.4.0 ", "version: 1.4 "),
        ("version: 1.4.0 ", "version: 1.10 "),
        ("version: 1.4.0 ", "version: 2 "),
        ("version: 1.4.0 ", "version: 1e3 "),
        ("version: 1.4.0 ", "version: true "),
        ("name: billing-cycle ", "name: 2024 "),
        ("  approvals_required: 1", "  approvals_required: '1'"),
        ("stage: production ", "stage: 3 "),
    ],
)
def test_a_suggested_fix_applied_as_written_passes_the_check(
    repo: GitRepo, line: str, replacement: str
) -> None:
    repo.write("agents/billing-cycle.yaml", BILLING.replace(line, replacement))
    code, found = check_findings(repo, "agents")
    assert code == 1, found
    finding = found[0]
    assert finding["line"] and finding["hint"], finding
    lines = repo.read("agents/billing-cycle.yaml").splitlines(keepends=True)
    indent = re.match(r" *", lines[finding["line"] - 1]).group(0)  # type: ignore[union-attr]
    suggestion = re.search(r"quote the value: (.+)$|: `([^`]+: [^`]+)`$", finding["hint"])
    choices = re.search(r"set `(\w+)` to one of: (.+)$", finding["hint"])
    if suggestion:
        fixes = [suggestion.group(1) or suggestion.group(2)]
    else:
        assert choices, f"no mechanical fix in {finding['hint']!r}"
        fixes = [f"{choices.group(1)}: {value}" for value in choices.group(2).split(", ")]
    for fix in fixes:
        lines[finding["line"] - 1] = indent + fix.strip() + "\n"
        repo.write("agents/billing-cycle.yaml", "".join(lines))
        code, after = check_findings(repo, "agents")
        same = [f for f in after if (f["rule"], f["line"]) == (finding["rule"], finding["line"])]
        assert not same, (finding["hint"], fix, after)


def test_version_1_4_suggests_the_quoted_full_version(repo: GitRepo) -> None:
    repo.write("agents/billing-cycle.yaml", BILLING.replace("version: 1.4.0 ", "version: 1.4 "))
    done = repo.ap("check", "agents")
    assert 'quote the value: version: "1.4.0"' in done.out, done.out


def test_every_builtin_rule_hint_names_only_valid_field_values() -> None:
    """Hints that show YAML (`key: value`) must show values the agent schema accepts."""
    from agentpolicy.rules.catalog import PYTHON_RULES
    from agentpolicy.rules.packs import builtin_pack

    infos = [*PYTHON_RULES.values(), *(rule.info for rule in builtin_pack().rules)]
    for info in infos:
        for snippet in re.findall(r"`([^`]*)`", info.hint):
            assert "1.4" not in snippet or re.search(r'"\d+\.\d+\.\d+"', snippet), (info.id, snippet)
            if snippet.startswith("version:"):
                assert re.fullmatch(r'version: "\d+\.\d+\.\d+"', snippet), (info.id, snippet)


# --- 5. A bad rule override says which values are allowed --------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"), [("warn", "'warn'"), ("true", "true"), ("2", "2"), ("[error]", "a list")]
)
def test_a_bad_rule_override_lists_the_allowed_values_in_words(repo: GitRepo, value: str, shown: str) -> None:
    repo.write(
        ".agentpolicy.yaml", f"agents: ['agents/*.yaml']\nrules:\n  AP110: warning\n  AP112: {value}\n"
    )
    repo.write("agents/pdf.yaml", agent_yaml())
    done = repo.ap("check", "agents")
    assert done.code == 2, done.text
    assert f".agentpolicy.yaml:4: rules.AP112 must be one of error, warning or off (got {shown})" in done.err
    assert "{'enum'" not in done.err and "[" not in done.err.split("got")[0]


def test_a_bare_off_override_still_says_to_quote_it(repo: GitRepo) -> None:
    repo.write(".agentpolicy.yaml", "rules:\n  AP112: off\n")
    done = repo.ap("check")
    assert done.code == 2
    assert ".agentpolicy.yaml:2: rules.AP112 must be one of error, warning or off (got false)" in done.err
    assert "AP112: 'off'" in done.err


# --- 6. A passphrase-protected key suggests ssh-add -------------------------------------------------


def test_a_passphrase_protected_key_suggests_ssh_add_then_the_pub(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    private = tmp_path / "keys" / "id_ed25519"
    private.parent.mkdir()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-C", "rev@example.com", "-f", str(private)],
        check=True,
    )
    repo.write(".agentpolicy/allowed_signers", keys["rev"].signer_line() + "\n")
    repo.write("agents/billing-cycle.yaml", BILLING)
    env = dict(repo.env)
    env.pop("SSH_AUTH_SOCK", None)
    env.pop("SSH_ASKPASS", None)
    done = subprocess.run(
        [
            AGENTPOLICY,
            "approve",
            "billing-cycle",
            "--reviewer",
            "Rev <rev@example.com>",
            "--key",
            str(private),
        ],
        cwd=repo.path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,  # no controlling terminal: ssh-keygen cannot ask for the passphrase
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "passphrase" in done.stderr
    assert f"ssh-add {private}" in done.stderr
    assert f"--key {private}.pub" in done.stderr
    assert not list((repo.path / "reviews").glob("**/*.yaml")) if (repo.path / "reviews").exists() else True


# --- 7. `agentpolicy schema` passes ajv's strict mode -----------------------------------------------

KINDS = ("agent", "review", "config", "rule")

# The keywords of the JSON Schema draft 2020-12 vocabularies (core, applicator, unevaluated,
# validation, meta-data, format-annotation, content).
DRAFT_2020_12 = {
    "$schema", "$id", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary", "$comment", "$defs",
    "prefixItems", "items", "contains", "additionalProperties", "properties", "patternProperties",
    "dependentSchemas", "propertyNames", "if", "then", "else", "allOf", "anyOf", "oneOf", "not",
    "unevaluatedItems", "unevaluatedProperties",
    "type", "const", "enum", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
    "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains", "minContains",
    "maxProperties", "minProperties", "required", "dependentRequired",
    "title", "description", "default", "deprecated", "readOnly", "writeOnly", "examples",
    "format", "contentEncoding", "contentMediaType", "contentSchema",
}  # fmt: skip
_SUBSCHEMA_MAPS = {"properties", "patternProperties", "$defs", "dependentSchemas"}
_SUBSCHEMA_LISTS = {"prefixItems", "allOf", "anyOf", "oneOf"}
_VALUE_KEYWORDS = {"const", "enum", "default", "examples"}


def _exported(kind: str, home: Path) -> dict[str, Any]:
    done = run([AGENTPOLICY, "schema", "--kind", kind], home, clean_env(home))
    assert done.code == 0, done.text
    loaded: dict[str, Any] = json.loads(done.out)
    return loaded


def _strict_problems(schema: Any, where: str = "#") -> list[str]:
    """What ajv's strict mode refuses: unknown keywords, unknown formats, union types."""
    if isinstance(schema, bool):
        return []
    problems = []
    for keyword, value in schema.items():
        at = f"{where}/{keyword}"
        if keyword not in DRAFT_2020_12:
            problems.append(f"unknown keyword {at}")
        elif keyword == "format":
            problems.append(f"format {value!r} at {at}: ajv knows no formats without ajv-formats")
        elif keyword == "type" and isinstance(value, list) and len(value) > 1:
            problems.append(f"union type at {at} (strictTypes)")
        elif keyword in _SUBSCHEMA_MAPS:
            for name, sub in value.items():
                problems += _strict_problems(sub, f"{at}/{name}")
        elif keyword in _SUBSCHEMA_LISTS:
            for index, sub in enumerate(value):
                problems += _strict_problems(sub, f"{at}/{index}")
        elif keyword not in _VALUE_KEYWORDS and isinstance(value, (dict, bool)) and keyword != "$vocabulary":
            problems += _strict_problems(value, at)
    return problems


@pytest.mark.parametrize("kind", KINDS)
def test_the_exported_schema_uses_only_draft_2020_12_keywords(kind: str, home: Path) -> None:
    schema = _exported(kind, home)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert _strict_problems(schema) == []
    jsonschema.Draft202012Validator.check_schema(schema)


def test_the_exported_agent_schema_still_validates_like_the_checker(home: Path) -> None:
    import yaml

    schema = _exported("agent", home)
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(BILLING))
    team = yaml.safe_load(BILLING.replace("  name: Anna Nowak\n  email: anna.nowak@example.com\n", "  - a\n"))
    assert not jsonschema.Draft202012Validator(schema).is_valid(team)


AJV_SCRIPT = """
const Ajv2020 = require("ajv/dist/2020");
const fs = require("fs");
const warnings = [];
const logger = {log() {}, warn(...a) { warnings.push(a.join(" ")); }, error(...a) { warnings.push(a.join(" ")); }};
let failed = 0;
for (const file of process.argv.slice(2)) {
  try {
    new Ajv2020({logger}).compile(JSON.parse(fs.readFileSync(file, "utf8")));
  } catch (e) { failed = 1; console.log(file + ": " + e.message); }
}
for (const w of warnings) console.log("warning: " + w);
process.exit(failed || warnings.length ? 1 : 0);
"""


def test_ajv_in_its_default_strict_mode_compiles_every_exported_schema(tmp_path: Path, home: Path) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip(
            "node and npm are not installed: the ajv run needs them (the keyword test above still ran)"
        )
    installed = subprocess.run(
        [npm, "install", "--prefix", str(tmp_path / "ajv"), "--no-audit", "--no-fund", "ajv@8"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if installed.returncode != 0:
        pytest.skip(f"npm could not install ajv@8 (offline?): {installed.stderr.strip()[-300:]}")
    files = []
    for kind in KINDS:
        target = tmp_path / f"{kind}.schema.json"
        target.write_text(json.dumps(_exported(kind, home)))
        files.append(str(target))
    (tmp_path / "compile.js").write_text(AJV_SCRIPT)
    env = dict(os.environ, NODE_PATH=str(tmp_path / "ajv" / "node_modules"))
    done = subprocess.run(
        [node, str(tmp_path / "compile.js"), *files], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- 8. SARIF URIs are percent-encoded ----------------------------------------------------------------

# RFC 3986 relative-ref (path only): pchar = unreserved / pct-encoded / sub-delims / ":" / "@"
_PCHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-F]{2})"
_RELATIVE_PATH = re.compile(rf"(?:{_PCHAR}|/)*")
_FORMATS = jsonschema.FormatChecker()


@_FORMATS.checks("uri-reference")
def _is_uri_reference(value: object) -> bool:
    return isinstance(value, str) and _RELATIVE_PATH.fullmatch(value) is not None


@pytest.mark.parametrize(
    "name",
    [
        b"agents/my agent.yaml",
        b"agents/100%.yaml",
        b"agents/a#b?.yaml",
        "agents/zażółć.yaml".encode(),
        b"agents/caf\xe9.yaml",  # Latin-1 bytes: not UTF-8
        b"agents/[x].yaml",
    ],
)
def test_sarif_artifact_uris_are_percent_encoded(repo: GitRepo, name: bytes) -> None:
    (repo.path / "agents").mkdir()
    with open(os.path.join(os.fsencode(repo.path), name), "wb") as handle:
        handle.write(agent_yaml().replace("version: 1.0.0", "version: 1.0").encode())
    done = repo.ap("check", "--format", "sarif", "agents")
    assert done.code == 1, done.text
    log = json.loads(done.out)
    jsonschema.Draft4Validator(SARIF_SCHEMA, format_checker=_FORMATS).validate(log)
    uris = {
        location["physicalLocation"]["artifactLocation"]["uri"]
        for result in log["runs"][0]["results"]
        for location in result["locations"]
    }
    assert uris == {urllib.parse.quote(name, safe="/")}
    assert urllib.parse.unquote_to_bytes(uris.pop()) == name  # the raw bytes come back exactly


def test_sarif_for_a_change_validates_with_uri_formats_checked(repo: GitRepo, keys: dict[str, Key]) -> None:
    guarded_repo(repo, keys)
    repo.write("agents/billing cycle #2.yaml", BILLING.replace("name: billing-cycle", "name: billing-two"))
    repo.stage()
    done = repo.ap("check", "--staged", "--format", "sarif")
    log = json.loads(done.out)
    jsonschema.Draft4Validator(SARIF_SCHEMA, format_checker=_FORMATS).validate(log)
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
        for loc in r["locations"]
    }
    assert "agents/billing%20cycle%20%232.yaml" in uris, uris
