"""The hook's whole-tree result (issue 20): HEAD's agent files and their verdicts, kept per tree.

A staged check takes the files of HEAD and their policy verdicts from one sealed row keyed by
the policy and the agents subtree's id (or derives it from the last such row through a tree
diff done by libgit2), so an unchanged tree is not walked file by file. The row is hostile
input like every cache row: only a row sealed under this code's policy key and this tree's
id is used, and anything that does not decode is a miss, never a different verdict.
"""

from __future__ import annotations

import json
import shutil
import sqlite3

from agentpolicy.cache.derived import DerivedCache, policy_key
from agentpolicy.rules.config import load_config
from tests.helpers import GitRepo, agent_yaml

SCOPE = json.dumps(["agents/**/*.yaml", "agents/**/*.yml"])


def _staged_json(repo: GitRepo) -> tuple[int, str]:
    done = repo.ap("check", "--staged", "--format", "json")
    assert done.code in (0, 1), done.text
    assert "Traceback" not in done.err, done.err
    return done.code, done.out


def _cold(repo: GitRepo) -> tuple[int, str]:
    shutil.rmtree(repo.path / ".git" / "agentpolicy", ignore_errors=True)
    return _staged_json(repo)


def _repository(repo: GitRepo) -> GitRepo:
    """Agents with every kind of per-file and cross-file finding, committed past the hook."""
    repo.write(".agentpolicy.yaml", "require_signatures: false\nallow_self_approval: true\n")
    for index in range(6):
        repo.write(f"agents/a{index}.yaml", agent_yaml(name=f"a{index}"))
    repo.write("agents/broken.yaml", agent_yaml(name="broken", stage="launched"))  # AP100
    repo.write("agents/twin.yaml", agent_yaml(name="a1"))  # AP140 with agents/a1.yaml
    repo.write("agents/nested/deep.yaml", agent_yaml(name="deep"))
    repo.write("agents/not-yaml.txt", "ignored\n")
    repo.commit("agents, some broken")
    return repo


def _scope(repo: GitRepo) -> tuple[str, str]:
    """(policy key, the agents subtree's id) as the check computes them."""
    config = load_config((repo.path / ".agentpolicy.yaml").read_bytes())
    tree = repo.git("rev-parse", "HEAD:agents").strip()
    return policy_key(config), tree


def test_a_warm_tree_result_gives_the_report_a_cold_check_gives(repo: GitRepo) -> None:
    _repository(repo)
    repo.write("agents/a2.yaml", agent_yaml(name="a2", version="1.0.1"))
    repo.write("agents/new.yaml", agent_yaml(name="a3"))  # a new duplicate name
    (repo.path / "agents" / "a4.yaml").unlink()
    repo.stage()
    cold = _cold(repo)
    assert cold[0] == 1 and "AP100" in cold[1] and "AP140" in cold[1]
    assert _staged_json(repo) == cold  # the tree result written by the cold run, now read
    assert _staged_json(repo) == cold


def test_a_tree_result_derived_from_the_last_commit_gives_the_cold_report(repo: GitRepo) -> None:
    _repository(repo)
    repo.write("agents/a2.yaml", agent_yaml(name="a2", version="1.0.1"))
    repo.stage()
    _cold(repo)
    repo.commit("a2 edited")  # HEAD moves: its tree result is derived from the previous one
    repo.write("agents/a5.yaml", agent_yaml(name="a5", version="1.0.1"))
    (repo.path / "agents" / "broken.yaml").unlink()
    repo.write("agents/nested/other.yaml", agent_yaml(name="deep"))
    repo.stage()
    warm = _staged_json(repo)
    assert warm == _cold(repo)


def test_attack_tree_rows_under_other_keys_change_no_verdict(repo: GitRepo) -> None:
    """Sealed rows that claim HEAD's agents are all clean, under keys this code never uses."""
    _repository(repo)
    repo.write("notes.txt", "unrelated\n")
    repo.stage()
    policy, tree = _scope(repo)
    cache = DerivedCache.open(str(repo.path / ".git"), "another build's policy")
    assert cache is not None
    clean = json.dumps({"paths": "agents/a0.yaml", "names": ["a0"], "flags": "0", "findings": {}})
    cache.put_tree(SCOPE, json.dumps([["agents/", tree]]), clean)
    cache.close()
    cache = DerivedCache.open(str(repo.path / ".git"), policy)
    assert cache is not None
    cache.put_tree(json.dumps(["other/**"]), json.dumps([["agents/", tree]]), clean)  # another scope
    cache.close()
    code, out = _staged_json(repo)
    assert code == 1 and "AP100" in out and "AP140" in out
    assert (code, out) == _cold(repo)


def test_attack_undecodable_or_dangling_tree_rows_are_a_miss(repo: GitRepo) -> None:
    """Rows sealed as the real code seals them (what someone writing .git on purpose could do),
    but that do not decode, or that name a tree the repository does not have: never exit 3,
    and the report is the cold one."""
    _repository(repo)
    repo.write("agents/a2.yaml", agent_yaml(name="a2", version="1.0.1"))
    repo.stage()
    expected = _cold(repo)
    policy, tree = _scope(repo)
    bad_payloads = [
        "not json",
        json.dumps([1, 2]),
        json.dumps({"paths": 5, "names": [], "flags": "", "findings": {}}),
        json.dumps({"paths": "agents/a0.yaml", "names": [7], "flags": "0", "findings": {}}),
        json.dumps({"paths": "agents/a0.yaml", "names": ["a0"], "flags": "x", "findings": {}}),
        json.dumps({"paths": "agents/a0.yaml", "names": ["a0", "b"], "flags": "0", "findings": {}}),
        json.dumps(
            {"paths": "agents/a0.yaml", "names": ["a0"], "flags": "0", "findings": {"agents/a0.yaml": 3}}
        ),
        json.dumps({"paths": "agents/a0.yaml", "names": ["a0"], "flags": "0", "findings": {"x": "[[1]]"}}),
    ]
    for payload in bad_payloads:
        shutil.rmtree(repo.path / ".git" / "agentpolicy", ignore_errors=True)
        cache = DerivedCache.open(str(repo.path / ".git"), policy)
        assert cache is not None
        cache.put_tree(SCOPE, json.dumps([["agents/", tree]]), payload)
        cache.close()
        assert _staged_json(repo) == expected, payload
    shutil.rmtree(repo.path / ".git" / "agentpolicy", ignore_errors=True)
    cache = DerivedCache.open(str(repo.path / ".git"), policy)
    assert cache is not None
    clean = json.dumps({"paths": "", "names": [], "flags": "", "findings": {}})
    cache.put_tree(SCOPE, json.dumps([["agents/", "0" * 40]]), clean)  # the newest row: no such tree
    cache.put_tree(SCOPE, json.dumps([["agents/", "not a tree id"]]), clean)
    cache.close()
    assert _staged_json(repo) == expected


def test_a_damaged_tree_row_is_a_miss(repo: GitRepo) -> None:
    _repository(repo)
    repo.write("notes.txt", "unrelated\n")
    repo.stage()
    expected = _cold(repo)
    database = next((repo.path / ".git" / "agentpolicy").glob("derived-v*.sqlite3"))
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE trees SET payload = replace(payload, 'broken', 'brokem')")
    connection.close()
    assert _staged_json(repo) == expected


def test_the_stored_tree_result_says_whether_an_agent_mentions_review_every(repo: GitRepo) -> None:
    """`check` looks for overdue re-attestations only where someone opted in; the tree result
    answers that without reading every agent blob, and must agree with reading them."""
    from agentpolicy.app.tree_verdicts import opted_in
    from agentpolicy.git.repo import Repo

    _repository(repo)
    repo.write("notes.txt", "unrelated\n")
    repo.stage()
    _cold(repo)
    config = load_config((repo.path / ".agentpolicy.yaml").read_bytes())
    head = Repo(str(repo.path))
    assert opted_in(head.head_snapshot(), config, head.repo.path) is False
    repo.write("agents/a3.yaml", agent_yaml(name="a3") + "  review_every: 30d\n")
    repo.commit("a3 opts in")
    repo.write("notes.txt", "again\n")
    repo.stage()
    _staged_json(repo)
    head = Repo(str(repo.path))
    assert opted_in(head.head_snapshot(), config, head.repo.path) is True


def test_attack_a_row_that_leaves_out_a_file_does_not_hide_its_staged_deletion(repo: GitRepo) -> None:
    """A row sealed under the right key (someone writing .git on purpose) can misstate the
    unchanged files, as a per-file row can; what the staged change does is read from git."""
    _repository(repo)
    (repo.path / "agents" / "a0.yaml").unlink()
    repo.stage()
    expected = _cold(repo)
    assert expected[0] == 1 and "a0" in expected[1]
    policy, tree = _scope(repo)
    shutil.rmtree(repo.path / ".git" / "agentpolicy", ignore_errors=True)
    cache = DerivedCache.open(str(repo.path / ".git"), policy)
    assert cache is not None
    others = ["agents/a1.yaml", "agents/a2.yaml"]
    forged = {"paths": "\0".join(others), "names": ["a1", "a2"], "flags": "00", "findings": {}}
    cache.put_tree(SCOPE, json.dumps([["agents/", tree]]), json.dumps(forged))
    cache.close()
    code, out = _staged_json(repo)
    assert code == 1
    assert json.loads(out)["changes"] == json.loads(expected[1])["changes"]
