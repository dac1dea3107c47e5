"""Property tests (hypothesis): the digest, the loader and the change gate under generated input."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentpolicy.model.changes import AgentState, compare
from agentpolicy.model.digest import agent_digest
from agentpolicy.model.document import ERROR
from agentpolicy.model.yamlfast import fast_parse as _fast
from agentpolicy.model.yamlload import _Builder, _compose_all, load_yaml
from agentpolicy.rules.config import Config
from agentpolicy.rules.engine import check_loaded

FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

slug = st.from_regex(r"\A[a-z][a-z0-9]{0,10}(-[a-z0-9]{1,8}){0,2}\Z")
text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40
).filter(
    lambda s: s.strip() == s and s.strip() and not s.startswith("@")  # '@...' is a team handle (AP101)
)
email = st.builds(lambda user, host: f"{user}@{host}.example", slug, slug)
version = st.builds(lambda a, b, c: f"{a}.{b}.{c}", *(st.integers(0, 40) for _ in range(3)))


@st.composite
def agents(draw: Any) -> dict[str, Any]:
    actions = draw(st.lists(slug, min_size=2, max_size=6, unique=True))
    split = draw(st.integers(1, len(actions) - 1))
    autonomous = [{"action": a, "description": draw(text)} for a in actions[:split]]
    confirm = [{"action": a, "irreversible": draw(st.booleans())} for a in actions[split:]]
    return {
        "apiVersion": "agentpolicy/v1",
        "kind": "Agent",
        "name": draw(slug),
        "version": draw(version),
        "stage": "production",
        "description": draw(text),
        "owner": {"name": draw(text), "email": draw(email)},
        "autonomy": {"autonomous": autonomous, "requires_confirmation": confirm},
        "monitoring": {"signals": [{"name": draw(slug), "detects": draw(text), "alert": draw(text)}]},
        "undo": {"rollback": draw(text), "human_checkpoint": draw(text)},
        "change_control": {"approvals_required": draw(st.integers(1, 3)), "process": draw(text)},
    }


def render(data: dict[str, Any], *, seed: int, style: str | None, crlf: bool, comments: bool) -> bytes:
    shuffled = _shuffle(data, random.Random(seed))
    body = yaml.safe_dump(shuffled, sort_keys=False, default_style=style, allow_unicode=True, width=10_000)
    if comments:
        body = "# generated\n" + "".join(
            f"{line}  # c{i}\n" if line.endswith(("'", '"')) or ":" not in line else f"{line}\n"
            for i, line in enumerate(body.splitlines())
        )
    if crlf:
        body = body.replace("\n", "\r\n")
    return body.encode()


def _shuffle(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: _shuffle(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [_shuffle(item, rng) for item in value]
    return value


def loaded(raw: bytes) -> dict[str, Any]:
    result = load_yaml("agent.yaml", raw)
    assert result.document is not None, result.findings
    data: dict[str, Any] = result.document.data
    return data


@FAST
@given(agents(), st.integers(0, 2**16), st.sampled_from([None, '"', "'"]), st.booleans(), st.booleans())
def test_the_digest_ignores_key_order_comments_quoting_and_line_endings(
    agent: dict[str, Any], seed: int, style: str | None, crlf: bool, comments: bool
) -> None:
    plain = loaded(render(agent, seed=0, style=None, crlf=False, comments=False))
    varied = loaded(render(agent, seed=seed, style=style, crlf=crlf, comments=comments))
    assert agent_digest(varied) == agent_digest(plain) == agent_digest(agent)


MUTATIONS = [
    ("version", lambda a: a.__setitem__("version", a["version"] + "-rc1")),
    ("stage", lambda a: a.__setitem__("stage", "staging")),
    ("owner", lambda a: a["owner"].__setitem__("email", "x" + a["owner"]["email"])),
    ("name", lambda a: a.__setitem__("name", a["name"] + "-x")),
    ("new action", lambda a: a["autonomy"]["autonomous"].append({"action": "zz-new"})),
    (
        "moved action",
        lambda a: a["autonomy"]["autonomous"].append(a["autonomy"]["requires_confirmation"].pop()),
    ),
    (
        "irreversible",
        lambda a: a["autonomy"]["requires_confirmation"][0].__setitem__(
            "irreversible", not a["autonomy"]["requires_confirmation"][0]["irreversible"]
        ),
    ),
    ("undo", lambda a: a["undo"].pop("rollback")),
    ("approvals", lambda a: a["change_control"].__setitem__("approvals_required", 9)),
]


@FAST
@given(agents(), st.sampled_from(MUTATIONS))
def test_any_governed_mutation_changes_the_digest_and_is_seen_by_the_gate(
    agent: dict[str, Any], mutation: tuple[str, Any]
) -> None:
    before = loaded(render(agent, seed=1, style=None, crlf=False, comments=False))
    mutated = copy.deepcopy(agent)
    mutation[1](mutated)
    after = loaded(render(mutated, seed=2, style=None, crlf=False, comments=False))
    assert agent_digest(after) != agent_digest(before)
    name = before["name"]
    change = compare(
        name,
        AgentState(
            name, load_yaml("a.yaml", render(agent, seed=1, style=None, crlf=False, comments=False)).document
        ),
        AgentState(
            after["name"],
            load_yaml("a.yaml", render(mutated, seed=2, style=None, crlf=False, comments=False)).document,
        ),
    )
    if after["name"] == name:
        assert change is not None and change.governed, mutation[0]


@FAST
@given(agents())
def test_any_generated_valid_agent_passes_the_policy(agent: dict[str, Any]) -> None:
    result = load_yaml("agents/a.yaml", render(agent, seed=3, style=None, crlf=False, comments=False))
    errors = [f for f in check_loaded([result], Config()) if f.severity == ERROR]
    assert errors == []


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=400))
def test_the_loader_given_arbitrary_bytes_returns_a_document_or_findings(raw: bytes) -> None:
    result = load_yaml("x.yaml", raw)
    assert (result.document is None) == bool(result.findings)
    if result.document is not None:
        result.document.position(("a", 0, "b"))  # positions work out lazily, without raising


yaml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=800, deadline=None)
@given(yaml_values, st.sampled_from([None, '"', "'"]))
def test_the_fast_and_the_positional_loader_agree(value: Any, style: str | None) -> None:
    text = yaml.safe_dump({"root": value}, default_style=style, allow_unicode=True)
    fast = _fast(text)
    builder = _Builder()
    slow = builder.build(_compose_all(text)[0], (), 0)
    assert fast == slow


YAMLISH = st.lists(
    st.sampled_from(
        [*"ab:- \n,'\"[]{}&*!<>|#?.01", "!!str ", "!!map ", "<<: ", ".nan", "2001-01-01", "0x1", "yes", "~"]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=3000, deadline=None)
@given(YAMLISH)
def test_the_fast_loader_returns_the_positional_loaders_data_or_steps_aside(text: str) -> None:
    """Crafted YAML (anchors, aliases, merge keys, tags, NaN, timestamps, duplicates): the fast
    path either builds exactly what the strict positional path builds, or returns None and
    lets that path decide. It must never accept what the strict path refuses."""
    fast = _fast(text)
    if fast is None:
        return
    nodes = _compose_all(text)
    assert len(nodes) == 1
    assert _Builder().build(nodes[0], (), 0) == fast


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",
        "a: &x [1]\nb: *x\n",
        "base: &b {k: 1}\nc:\n  <<: *b\n",
        "a: 1\na: 2\n",
        "? [1]\n: x\n",
        "a: !!python/object:os.system x\n",
        "a: .nan\n",
        "a: !custom x\n",
        "[" * 70 + "]" * 70 + "\n",
    ],
)
def test_the_fast_loader_steps_aside_for_what_it_does_not_build(text: str) -> None:
    assert _fast(text) is None


BREAKS = [
    lambda a: a.__setitem__("version", 1.1),
    lambda a: a.__setitem__("stage", "prod"),
    lambda a: a["owner"].pop("email"),
    lambda a: a.__setitem__("owner", [a["owner"]]),
    lambda a: a.__setitem__("extra", 1),
    lambda a: a["autonomy"]["autonomous"].append({"action": "Bad Action"}),
    lambda a: a["autonomy"]["requires_confirmation"][0].__setitem__("irreversible", "yes"),
    lambda a: a["change_control"].__setitem__("approvals_required", -1),
    lambda a: a["monitoring"]["signals"][0].pop("detects"),
    lambda a: None,
]


@FAST
@given(agents(), st.sampled_from(BREAKS))
def test_the_fast_schema_path_agrees_with_jsonschema(agent: dict[str, Any], breaker: Any) -> None:
    from jsonschema import Draft202012Validator

    from agentpolicy.model.fastschema import fast_validator
    from agentpolicy.model.schemas import schema
    from agentpolicy.rules.declarative import builtin_declarative_rules

    breaker(agent)
    pairs = [(schema("agent"), agent)]
    for rule in builtin_declarative_rules():
        pairs += [(s, agent) for s in (rule.when, rule.require) if s is not None]
    for candidate, data in pairs:
        fast = fast_validator(candidate)
        assert fast is not None
        assert fast(copy.deepcopy(data)) == Draft202012Validator(candidate).is_valid(data)


TIMEISH = st.lists(
    st.sampled_from([*"0123456789-:TZ ", "٣", "2024", "1999", "0999", "60", "29", "02"]), max_size=24
).map("".join)


@settings(max_examples=3000, deadline=None)
@given(TIMEISH | st.text(max_size=22) | st.datetimes().map(lambda moment: f"{moment:%Y-%m-%dT%H:%M:%SZ}"))
def test_an_entrys_time_is_read_exactly_as_strptime_reads_it(text: str) -> None:
    """Entries' times are parsed without strptime (a tenth of a wide audit): the same answer
    for every text, including February 29ths, leap seconds, years before 1000, other digits."""
    from agentpolicy.review.entries import parse_signed_time, strptime_time

    assert parse_signed_time(text) == strptime_time(text)


@pytest.mark.parametrize(
    "text", ["2024-02-29T23:59:59Z", "2023-02-29T00:00:00Z", "2024-12-31T23:59:60Z", "0999-01-01T00:00:00Z"]
)
def test_an_entrys_time_edge_cases(text: str) -> None:
    from agentpolicy.review.entries import parse_signed_time, strptime_time

    assert parse_signed_time(text) == strptime_time(text)
    assert (parse_signed_time(text) is None) == (text != "2024-02-29T23:59:59Z")
