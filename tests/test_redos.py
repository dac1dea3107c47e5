"""Issue 13, attack 12: no shipped pattern backtracks super-linearly, strings are capped, and
`agentpolicy test` warns about pack patterns shaped for catastrophic backtracking."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from agentpolicy.model.pattern_safety import backtracking_risk, schema_patterns
from agentpolicy.model.schemas import builtin_pack
from tests.helpers import AGENTPOLICY, GitRepo, agent_yaml, clean_env, run

# Characters whose behaviour differs between classes of a pattern; one of each kind is enough.
_ALPHABET = [chr(code) for code in range(32, 127)] + ["\n", "\t", "é", "\u00a0"]


def shipped_patterns() -> list[tuple[str, str]]:
    """Every pattern in every shipped schema, rule file and pack settings file, found by walking them."""
    found: list[tuple[str, str]] = []
    pack = builtin_pack()
    for entry in sorted((pack / "schemas").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            schema = json.loads(entry.read_text("utf-8"))
            found += [(f"schemas/{entry.name}#{where}", p) for where, p in schema_patterns(schema)]
    for entry in sorted((pack / "rules").iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            rule = yaml.safe_load(entry.read_text("utf-8"))
            found += [(f"rules/{entry.name}#{where}", p) for where, p in schema_patterns(rule)]
    settings = pack / "pack.yaml"
    if settings.is_file():
        found += [
            (f"pack.yaml#{w}", p) for w, p in schema_patterns(yaml.safe_load(settings.read_text("utf-8")))
        ]
    return found


def _kinds(pattern: str) -> list[str]:
    """One representative character per behaviour: characters no class or literal tells apart are alike."""
    pieces = [
        piece for piece in re.findall(r"\[(?:\\.|[^\]])*\]|\\.|.", pattern) if piece not in "^$()|*+?{}"
    ]
    tests = []
    for piece in pieces:
        try:
            tests.append(re.compile(piece))
        except re.error:
            continue
    by_signature: dict[tuple[bool, ...], str] = {}
    for char in _ALPHABET:
        by_signature.setdefault(tuple(bool(t.fullmatch(char)) for t in tests), char)
    return list(by_signature.values())


def _candidates(pattern: str) -> list[tuple[str, str, str]]:
    """(prefix, repeated unit, suffix) shapes of worst-case input built from the pattern's own classes."""
    kinds = _kinds(pattern)
    literals = sorted({a or b for a, b in re.findall(r"\\(.)|([^\w\\\[\]^$()|*+?{}])", pattern)})
    units = kinds + ["".join(pair) for pair in itertools.product(kinds, repeat=2)]
    prefixes = ["", *(k + lit for k in kinds for lit in literals), *(lit for lit in literals)]
    suffixes = ["", *kinds]
    return [(p, u, s) for p in prefixes for u in units for s in suffixes]


def _seconds(compiled: re.Pattern[str], text: str, budget: float = 0.02) -> float:
    """The fastest of many single searches: a busy machine only ever adds time to a run."""
    best, spent = float("inf"), 0.0
    while spent <= budget:
        start = time.perf_counter()
        compiled.search(text)
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
    return best


def _growth(compiled: re.Pattern[str], prefix: str, unit: str, suffix: str) -> tuple[float, int]:
    """Time on 16 K characters over time on 4 K: sizes that stay in the CPU caches, so only
    the pattern's own growth shows (linear ~4x, quadratic ~16x)."""
    n = 4096 // len(unit)
    small = _seconds(compiled, prefix + unit * n + suffix)
    large = _seconds(compiled, prefix + unit * (4 * n) + suffix)
    return large / small, n


SHIPPED = shipped_patterns()


def test_every_shipped_schema_and_rule_file_is_walked_for_patterns() -> None:
    places = {where.split("#")[0] for where, _ in SHIPPED}
    assert {"schemas/agent.schema.json", "schemas/review.schema.json", "schemas/rule.schema.json"} <= places
    assert any(p == r"^sha256:[0-9a-f]{64}$" for _, p in SHIPPED)


@pytest.mark.parametrize(("where", "pattern"), SHIPPED, ids=[w for w, _ in SHIPPED])
def test_attack_redos_no_shipped_pattern_grows_super_linearly(where: str, pattern: str) -> None:
    compiled = re.compile(pattern)
    screened = []
    for prefix, unit, suffix in _candidates(pattern):
        text = prefix + unit * (512 // len(unit)) + suffix
        screened.append((_seconds(compiled, text, 0), prefix, unit, suffix))
    screened.sort(reverse=True)
    for _, prefix, unit, suffix in screened[:4]:
        ratio, n = _growth(compiled, prefix, unit, suffix)  # linear gives ~4x, quadratic ~16x
        if ratio >= 8:  # measure once more before blaming the pattern
            ratio, n = min((ratio, n), _growth(compiled, prefix, unit, suffix))
        assert ratio < 8, (
            f"{where}: {pattern!r} took {ratio:.1f}x longer on 4x the input "
            f"({prefix!r} + {unit!r} * {n} + {suffix!r}): it backtracks super-linearly"
        )


def test_attack_redos_the_owner_email_shape_is_timed_by_the_generic_search() -> None:
    """The generic input search must find the known quadratic case, or it proves nothing."""
    bad = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    compiled = re.compile(bad)
    worst = max(
        _candidates(bad), key=lambda c: _seconds(compiled, c[0] + c[1] * (512 // len(c[1])) + c[2], 0)
    )
    assert _growth(compiled, *worst)[0] >= 8


@pytest.mark.parametrize(("where", "pattern"), SHIPPED, ids=[w for w, _ in SHIPPED])
def test_no_shipped_pattern_has_a_known_backtracking_shape(where: str, pattern: str) -> None:
    assert backtracking_risk(pattern) is None, where


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a+)+",
        r"^(\w+\s?)*$",
        r"^(a|aa)+$",
        r"^(?:a|b|ab)*c$",
        r"^(a|a)*$",
        r"^(a*)*$",
        r"^(.*a){12}$",
        r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        r"^\d*\d*$",
        r"\w+@example\.com",
    ],
)
def test_backtracking_shapes_are_recognised(pattern: str) -> None:
    assert backtracking_risk(pattern)


@pytest.mark.parametrize(
    "pattern",
    [r"^(\.[a-z]+)+$", r"^[a-z]+(-[a-z]+)*$", r"^([a-z]+-)*$", r"^[A-Z]+[0-9]+$", r"pagerduty:", r"\w+"],
)
def test_linear_patterns_are_not_warned_about(pattern: str) -> None:
    assert backtracking_risk(pattern) is None


def _free_strings(schema: object, where: str = "") -> list[str]:
    """Places in a schema that accept a string of any length."""
    found = []
    if isinstance(schema, dict):
        if schema.get("type") == "string" and "maxLength" not in schema and "enum" not in schema:
            found.append(where)
        for key, value in schema.items():
            if key not in ("enum", "const", "default", "examples"):
                found += _free_strings(value, f"{where}/{key}")
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            found += _free_strings(item, f"{where}/{index}")
    return found


@pytest.mark.parametrize("name", ["agent", "review", "rule", "pack"])
def test_every_string_in_the_shipped_schemas_has_a_length_cap(name: str) -> None:
    schema = json.loads((builtin_pack() / "schemas" / f"{name}.schema.json").read_text("utf-8"))
    assert _free_strings(schema) == []


def test_attack_redos_a_huge_owner_email_is_refused_quickly(repo: GitRepo) -> None:
    """Before the fix, a 200 KB e-mail took minutes in every check; now it is a plain finding."""
    email = "a@" + "." * 200_000 + "@"
    repo.write("agents/x.yaml", agent_yaml(name="x").replace("piotr@example.com", f"'{email}'"))
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [AGENTPOLICY, "check", "agents/x.yaml"],
            cwd=repo.path,
            env=repo.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("agentpolicy check ran for over a minute on a 200 KB e-mail address")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "owner.email" in done.stdout + done.stderr
    assert time.perf_counter() - start < 60


def _pack(folder: Path, rules: dict[str, str], approvals_when: str | None = None) -> Path:
    for name, pattern in rules.items():
        (folder / "rules").mkdir(parents=True, exist_ok=True)
        (folder / "rules" / f"{name}.yaml").write_text(
            f"id: {name}\nseverity: error\nmessage: m\nhint: h\n"
            f"require: {{properties: {{description: {{pattern: {json.dumps(pattern)}}}}}}}\n"
        )
    if approvals_when:
        (folder / "pack.yaml").write_text(
            "approvals:\n"
            f"  - when: {{properties: {{name: {{pattern: {json.dumps(approvals_when)}}}}}}}\n"
            "    approvals_required: 2\n"
        )
    return folder


def test_agentpolicy_test_warns_about_nested_quantifiers_naming_file_and_pattern(tmp_path: Path) -> None:
    pack = _pack(
        tmp_path / "acme",
        {"ACME1": r"^(a+)+$", "ACME2": r"^(\w+\s?)*$", "ACME3": r"^(a|ab|b)*c$", "ACME4": r"^(\.[a-z]+)+$"},
        approvals_when=r"^([a-z]+)*-x$",
    )
    done = run([AGENTPOLICY, "test", str(pack)], tmp_path, clean_env(tmp_path))
    assert done.code == 0, done.text  # a warning, not a failure: the pack has no examples to fail
    lines = [line for line in done.text.splitlines() if line.startswith("warning")]
    assert any("rules/ACME1.yaml" in line and "^(a+)+$" in line for line in lines), done.text
    assert any("rules/ACME2.yaml" in line and r"^(\w+\s?)*$" in line for line in lines), done.text
    assert any("rules/ACME3.yaml" in line and "^(a|ab|b)*c$" in line for line in lines), done.text
    assert any("pack.yaml" in line and "^([a-z]+)*-x$" in line for line in lines), done.text
    assert not any("ACME4" in line for line in lines), done.text


def test_agentpolicy_test_has_no_pattern_warnings_for_the_built_in_pack(tmp_path: Path) -> None:
    done = run([AGENTPOLICY, "test"], tmp_path, clean_env(tmp_path))
    assert done.code == 0, done.text
    assert "warning" not in done.text
