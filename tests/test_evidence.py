"""`agentpolicy evidence`: a bundle an auditor verifies with sh, coreutils and ssh-keygen alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from tests.helpers import EXPANDED_BILLING, GitRepo, Key, approve, guarded_repo

SCHEMA = json.loads((Path(__file__).parent / "data" / "in-toto-statement-v1.schema.json").read_text())


def coreutils_only_path(folder: Path) -> str:
    """A PATH with symlinks to coreutils' programs and ssh-keygen, and nothing else (no git, no python)."""
    folder.mkdir()
    listed = subprocess.run(["dpkg", "-L", "coreutils"], capture_output=True, text=True, check=False).stdout
    programs = [Path(line) for line in listed.splitlines() if "/bin/" in line and Path(line).is_file()]
    if not programs:  # not Debian: the programs verify.sh uses
        names = ("cat", "cut", "dirname", "sha256sum", "printf", "echo", "test", "[", "ls")
        programs = [Path(found) for name in names if (found := shutil.which(name))]
    for program in programs:
        if not (folder / program.name).exists():
            (folder / program.name).symlink_to(program)
    keygen = shutil.which("ssh-keygen")
    assert keygen
    (folder / "ssh-keygen").symlink_to(keygen)
    return str(folder)


def verify(bundle: Path, path: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path, "LC_ALL": "C", "HOME": str(bundle.parent)}
    return subprocess.run(
        ["/bin/sh", str(bundle / "verify.sh")], capture_output=True, text=True, env=env, cwd="/", check=False
    )


def history(repo: GitRepo, keys: dict[str, Key]) -> GitRepo:
    """An approved creation, an approved expansion (with a revoked-signers file), one unapproved bump."""
    guarded_repo(repo, keys, config="revoked_signers: .agentpolicy/revoked\n")
    repo.write(".agentpolicy/revoked", "")  # an empty revocation list, in force from the next commit
    repo.commit("revocations file")  # (a trust-root change, unapproved: a statement of what is missing)
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    assert approve(repo, keys["rev"]).code == 0
    assert approve(repo, keys["rev2"]).code == 0
    repo.commit("expand billing")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING.replace("version: 1.5.0 ", "version: 1.5.1 "))
    repo.commit("unreviewed bump")
    return repo


@pytest.fixture
def bundle(repo: GitRepo, keys: dict[str, Key], tmp_path: Path) -> Path:
    history(repo, keys)
    done = repo.ap("evidence", "--output", str(tmp_path / "bundle"))
    assert done.code == 0, done.text
    assert "verify it anywhere with: sh" in done.out
    return tmp_path / "bundle"


def test_the_bundle_verifies_with_only_sh_coreutils_and_ssh_keygen(bundle: Path, tmp_path: Path) -> None:
    path = coreutils_only_path(tmp_path / "bin")
    done = verify(bundle, path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("ok    signature entries/") == 3  # rev (creation), rev and rev2 (expansion)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert done.stdout.count("ok    file ") == len(manifest["files"])
    assert done.stdout.strip().endswith(
        "verified: every file matches manifest.json and every signature holds"
    )
    assert any(name.endswith(".revoked") for name in os.listdir(bundle / "signers"))
    assert (
        " -r " in (bundle / "verify.sh").read_text()
        and "'.revoked'" not in (bundle / "verify.sh").read_text()
    )


@pytest.mark.parametrize("folder", ["entries", "statements", "signers", "agents"])
def test_one_flipped_byte_fails_naming_the_item(bundle: Path, tmp_path: Path, folder: str) -> None:
    path = coreutils_only_path(tmp_path / "bin")
    for victim in sorted((bundle / folder).iterdir()):
        original = victim.read_bytes()
        data = bytearray(original or b"\n")  # an empty revocation list: one added byte
        data[len(data) // 2] ^= 0x01
        victim.write_bytes(bytes(data))
        done = verify(bundle, path)
        assert done.returncode == 1, victim
        assert f"FAIL  file {folder}/{victim.name} was altered" in done.stdout
        victim.write_bytes(original)
    assert verify(bundle, path).returncode == 0


def test_an_altered_payload_or_signers_file_fails_its_signature_too(bundle: Path, tmp_path: Path) -> None:
    path = coreutils_only_path(tmp_path / "bin")
    payload = next((bundle / "entries").glob("*.payload"))
    payload.write_bytes(payload.read_bytes().replace(b'"approve"', b'"retire"'))
    done = verify(bundle, path)
    assert (
        done.returncode == 1 and f"FAIL  signature entries/{payload.stem}.sig does not verify" in done.stdout
    )


def test_statements_are_in_toto_v1_with_blob_and_content_digests(bundle: Path, repo: GitRepo) -> None:
    statements = {p.name: json.loads(p.read_text()) for p in sorted((bundle / "statements").iterdir())}
    for statement in statements.values():
        jsonschema.validate(statement, SCHEMA)
    reviews = [s for s in statements.values() if s["predicateType"].endswith("/review/v1")]
    missing = [s for s in statements.values() if s["predicateType"].endswith("/unapproved-change/v1")]
    assert len(reviews) == 3 and {s["predicate"]["agent"] for s in missing} >= {
        "billing-cycle",
        "@trust-root",
    }
    expansion = next(s for s in reviews if s["predicate"]["version"] == "1.5.0")
    subject = expansion["subject"][0]
    blob = repo.git("rev-parse", "HEAD~1:agents/billing-cycle.yaml").strip()
    assert subject["name"] == "agents/billing-cycle.yaml" and subject["digest"]["gitBlob"] == blob
    shown = subprocess.run(["git", "cat-file", "blob", blob], cwd=repo.path, capture_output=True, check=True)
    assert (bundle / f"agents/{blob}.yaml").read_bytes() == shown.stdout
    assert "sha256:" + subject["digest"]["sha256"] == expansion["predicate"]["digest"]
    predicate = expansion["predicate"]
    assert predicate["addedInCommit"] == repo.git("rev-parse", "HEAD~1").strip()
    assert predicate["signature"].startswith("-----BEGIN SSH SIGNATURE-----")
    assert predicate["signers"][0]["lines"] and "namespaces=" in predicate["signers"][0]["lines"][0]
    assert (bundle / predicate["payloadFile"]).read_bytes().startswith(b'{"agent":"billing-cycle"')


def test_the_same_range_gives_the_same_bytes_but_the_generation_time(
    bundle: Path, repo: GitRepo, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    assert repo.ap("evidence", "--output", str(again)).code == 0
    first = {p.relative_to(bundle): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] in ([], [Path("manifest.json")])
    one, two = (json.loads(x[Path("manifest.json")]) for x in (first, second))
    one.pop("generated_at"), two.pop("generated_at")
    assert one == two


def test_json_prints_the_manifest_and_an_existing_folder_is_refused(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    guarded_repo(repo, keys)
    done = repo.ap("evidence", "--format", "json", "--output", str(tmp_path / "b"))
    assert done.code == 0, done.text
    manifest = json.loads(done.out)
    assert manifest["repository"]["head"] == repo.git("rev-parse", "HEAD").strip()
    assert manifest["files"]["verify.sh"] and manifest["summary"]["review_statements"] == 1
    again = repo.ap("evidence", "--format", "json", "--output", str(tmp_path / "b"))
    assert again.code == 2 and "already exists" in again.err and json.loads(again.out)["error"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".evidence-")) == []


def test_attack_hostile_reviewer_address_and_bundle_folder_run_nothing(
    repo: GitRepo, keys: dict[str, Key], tmp_path: Path
) -> None:
    email = "x$(touch${IFS}PWNED)`touch${IFS}PWNED2`;&|*@example.com"
    key = keys["rev"]
    repo.write(".agentpolicy/allowed_signers", f'{email} namespaces="agentpolicy-review" {key.public_text}\n')
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    done = repo.ap(
        "approve",
        "billing-cycle",
        "--reviewer",
        f"O'Evil $(touch PWNED3) <{email}>",
        "--key",
        str(key.private),
    )
    assert done.code == 0, done.text
    repo.commit("hostile reviewer")
    folder = tmp_path / "ev il'$(touch PWNED4)"
    assert repo.ap("evidence", "--output", str(folder)).code == 0
    path = coreutils_only_path(tmp_path / "bin")
    done = verify(folder, path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok    signature entries/" in done.stdout
    for where in (tmp_path, folder, repo.path, Path("/")):
        assert not list(where.glob("PWNED*"))


def test_break_glass_is_in_the_statements(repo: GitRepo, keys: dict[str, Key], tmp_path: Path) -> None:
    guarded_repo(repo, keys, config="break_glass: {allowed: true, follow_up_days: 3}\n")
    repo.write("agents/billing-cycle.yaml", EXPANDED_BILLING)
    key = keys["dev"]
    args = [
        "--reviewer",
        f"Dev <{key.email}>",
        "--key",
        str(key.private),
        "--break-glass",
        "--reason",
        "INC-1",
    ]
    assert repo.ap("approve", "billing-cycle", *args).code == 0
    repo.commit("emergency")
    assert repo.ap("evidence", "billing-cycle", "--output", str(tmp_path / "b")).code == 0
    statements = [json.loads(p.read_text()) for p in sorted((tmp_path / "b/statements").iterdir())]
    glass = [s for s in statements if s["predicate"].get("decision") == "break-glass"]
    assert glass and glass[0]["predicate"]["event"]["approvedVia"] == "break-glass"
    assert glass[0]["predicate"]["event"]["followUpDue"]
    assert "via BREAK-GLASS" in (tmp_path / "b/controls.md").read_text()
    assert verify(tmp_path / "b", coreutils_only_path(tmp_path / "bin")).returncode == 0


def test_evidence_help_names_the_verification(repo: GitRepo) -> None:
    assert "verify.sh" in repo.ap("evidence", "--help").out


def test_attack_a_missing_file_or_a_manifest_naming_a_file_outside_fails(
    bundle: Path, tmp_path: Path
) -> None:
    path = coreutils_only_path(tmp_path / "bin")
    statement = next((bundle / "statements").iterdir())
    statement.unlink()
    done = verify(bundle, path)
    assert done.returncode == 1 and f"FAIL  file statements/{statement.name} is missing" in done.stdout
    manifest = bundle / "manifest.json"
    text = manifest.read_text().replace(
        '  "files": {\n', '  "files": {\n    "../../etc/passwd": "' + "0" * 64 + '",\n'
    )
    manifest.write_text(text)
    done = verify(bundle, path)
    assert done.returncode == 1 and 'FAIL  manifest.json: a malformed line in "files"' in done.stdout
    assert "passwd" not in done.stdout
