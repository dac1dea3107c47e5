"""The inventory's schema, as numbered migrations: an older database is upgraded in place.

Each migration is a list of statements, applied with the row that records it
in one transaction, so a database is always at exactly one version. A database
at a higher version than this build knows is refused, never downgraded or
guessed at; so is one that holds tables of these names without our version
table (someone else's tables). The schema each version leaves is documented in
docs/inventory.md: rows may gain columns in later versions, never lose them.
"""

from __future__ import annotations

import datetime as dt

from agentpolicy import __version__
from agentpolicy.inventory.database import Database, InventoryDatabaseError

VERSION_TABLE = "inventory_schema"
MIGRATIONS: list[list[str]] = [
    [  # 1: repositories, agents and changes
        f"CREATE TABLE {VERSION_TABLE} ("
        " version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL, agentpolicy_version TEXT NOT NULL)",
        "CREATE TABLE repositories ("
        " id {id}, path TEXT NOT NULL, path_bytes {bytes} NOT NULL UNIQUE, rev TEXT NOT NULL,"
        " head_commit TEXT, fingerprint TEXT,"
        " status TEXT NOT NULL CHECK (status IN ('ok', 'failed')), error TEXT,"
        " scanned_at TEXT NOT NULL, checked_at TEXT NOT NULL)",
        "CREATE TABLE agents ("
        " repository_id {ref} NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,"
        " name TEXT NOT NULL, path TEXT NOT NULL, version TEXT NOT NULL, stage TEXT NOT NULL,"
        " owner_name TEXT NOT NULL, owner_email TEXT NOT NULL,"
        " approved {bool} NOT NULL, approvals INTEGER NOT NULL, approvers TEXT NOT NULL,"
        " open_gaps TEXT NOT NULL, errors INTEGER NOT NULL,"
        " PRIMARY KEY (repository_id, path))",
        "CREATE TABLE changes ("
        " repository_id {ref} NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,"
        " seq INTEGER NOT NULL, agent TEXT NOT NULL, event TEXT NOT NULL, version TEXT,"
        " commit_id TEXT NOT NULL, date TEXT NOT NULL, author TEXT NOT NULL, approved {bool} NOT NULL,"
        " approved_later_in TEXT, path TEXT NOT NULL, side_branch {bool} NOT NULL,"
        " PRIMARY KEY (repository_id, seq))",
    ],
    [  # 2: when each agent's approval is due for review again (re-attestation), and lookups
        "ALTER TABLE agents ADD COLUMN review_due TEXT",
        "CREATE INDEX agents_by_owner ON agents (owner_email)",
        "CREATE INDEX changes_by_agent ON changes (repository_id, agent)",
    ],
]
LATEST = len(MIGRATIONS)
OUR_TABLES = frozenset({VERSION_TABLE, "repositories", "agents", "changes"})


def migrate(database: Database, target: int = LATEST) -> tuple[int, int]:
    """Bring ``database`` to ``target`` (the latest by default); (version before, version after)."""
    with database.failures_explained(), database.transaction():
        current = schema_version(database)
        if current > LATEST:
            raise InventoryDatabaseError(
                f"the inventory database {database.shown} has schema version {current}, written by a newer "
                f"agentpolicy; this one reads versions up to {LATEST} and changed nothing",
                "upgrade agentpolicy (pip install --upgrade git-agentpolicy), or pass another --db",
            )
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for number in range(current + 1, target + 1):
            for statement in MIGRATIONS[number - 1]:
                database.execute(statement)
            database.execute(
                f"INSERT INTO {VERSION_TABLE} (version, applied_at, agentpolicy_version) VALUES (?, ?, ?)",
                (number, now, __version__),
            )
    return current, max(current, target)


def schema_version(database: Database) -> int:
    """The version recorded in the database: 0 for a database without our tables."""
    tables = database.tables()
    if VERSION_TABLE not in tables:
        foreign = sorted(OUR_TABLES & tables)
        if foreign:
            raise InventoryDatabaseError(
                f"{database.shown} already has tables named {', '.join(foreign)} that agentpolicy did not "
                "create; nothing was changed",
                "use a database (or a PostgreSQL schema, with ?options=-csearch_path%3DNAME) of its own",
            )
        return 0
    value = database.execute(f"SELECT MAX(version) FROM {VERSION_TABLE}")[0][0]
    if not isinstance(value, int) or value < 1:
        raise InventoryDatabaseError(
            f"the inventory database {database.shown} records no valid schema version ({value!r})",
            "the database is damaged: move it away; the next run builds a new one",
        )
    return value
