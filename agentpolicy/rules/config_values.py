"""Settings of `.agentpolicy.yaml` that need more than the schema: paths, waivers, evidence settings.

Each configured path is put in its canonical spelling (or refused when it would leave
the repository); each waiver is checked as a date within the `max_waiver_days`
horizon and is never for a locked rule; `review_every` and `break_glass` become
the numbers `Config` holds. `load_config` calls these once the document passed
`config_checks`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from agentpolicy.errors import ConfigError
from agentpolicy.files.repopath import UnsafePath, normalise
from agentpolicy.rules.config_checks import RULE_ID, dotted, is_locked_rule, refuse

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Waiver:
    """A time-boxed exception: findings of `rule` on `agent` are reported as waived until `expires`."""

    rule: str
    agent: str
    reason: str
    owner: str
    expires: dt.date
    line: int = 0
    column: int = 0

    def expired(self, today: dt.date) -> bool:
        return today > self.expires


def _expiry(text: str, index: int, where: str, document: Any) -> dt.date:
    problem = "it is not of the form YYYY-MM-DD"
    if _DATE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError as exc:
            problem = str(exc)
    raise refuse(
        f"`waivers[{index}].expires`: {text!r} is not a date ({problem})",
        "write the last day the waiver applies as YYYY-MM-DD, e.g. 2027-02-28",
        where,
        document,
        ("waivers", index, "expires"),
    )


def waivers(data: dict[str, Any], where: str, document: Any) -> tuple[Waiver, ...]:
    """The `waivers:` list, each for a rule that may be waived and within the horizon."""
    waivers = []
    for index, item in enumerate(data.get("waivers", [])):
        line, column = document.position(("waivers", index))
        if not RULE_ID.fullmatch(item["rule"]) or is_locked_rule(item["rule"]):
            raise ConfigError(
                f"waivers[{index}]: {item['rule']!r} is a change-gate, signature or file-integrity "
                "rule and cannot be waived",
                "get the review instead; waivers are for policy rules (AP1xx and your packs' rules)",
                path=where,
                line=line,
            )
        expires = _expiry(item["expires"], index, where, document)
        _within_horizon(item, expires, data.get("max_waiver_days", 180), index, where, line)
        owner = item["owner"]
        waivers.append(
            Waiver(
                item["rule"],
                item["agent"],
                item["reason"],
                f"{owner['name']} <{owner['email']}>",
                expires,
                line,
                column,
            )
        )
    return tuple(waivers)


def _within_horizon(
    item: dict[str, Any], expires: dt.date, days: int, index: int, where: str, line: int
) -> None:
    """A waiver that expires further ahead than `max_waiver_days` is a permanent exception in disguise."""
    today = dt.datetime.now(dt.UTC).date()
    if expires > today + dt.timedelta(days=days):
        raise ConfigError(
            f"waivers[{index}] ({item['rule']} on {item['agent']}, owner {item['owner']['email']}) expires "
            f"on {expires.isoformat()}, more than max_waiver_days ({days}) from today",
            f"set `expires` on or before {(today + dt.timedelta(days=days)).isoformat()}, and renew the "
            "waiver with its owner when it runs out (or raise `max_waiver_days`)",
            path=where,
            line=line,
        )


def evidence_settings(data: dict[str, Any]) -> dict[str, Any]:
    """Re-attestation, break-glass and the waiver horizon (issue 17), already schema-checked."""
    glass = data.get("break_glass") or {}
    every = data.get("review_every")
    return {
        "review_every": int(every[:-1]) if every else None,
        "break_glass_allowed": bool(glass.get("allowed", False)),
        "break_glass_follow_up_days": glass.get("follow_up_days", 3),
        "max_waiver_days": data.get("max_waiver_days", 180),
    }


def dates_as_text(data: dict[str, Any]) -> None:
    """`expires: 2026-12-31` unquoted is a YAML date; accept it as the string it was written as."""
    for item in data.get("waivers", []) if isinstance(data.get("waivers"), list) else []:
        if isinstance(item, dict) and isinstance(item.get("expires"), dt.date):
            item["expires"] = item["expires"].isoformat()


def config_path(value: str, key: tuple[Any, ...], where: str, document: Any) -> str:
    """One configured path in its canonical spelling (see `repopath.normalise`), or a ConfigError."""
    try:
        return normalise(value)
    except UnsafePath as exc:
        raise refuse(
            f"`{dotted(key)}`: {value!r} is not a path inside the repository: {exc.reason}",
            "write a path relative to the repository root, with / between folders and no `..`, "
            "e.g. `reviews` or `.agentpolicy/allowed_signers`",
            where,
            document,
            key,
        ) from None


def config_paths(data: dict[str, Any], key: str, where: str, document: Any) -> tuple[str, ...]:
    """A list of configured paths (`agents`, `policy`), each in its canonical spelling."""
    return tuple(config_path(value, (key, index), where, document) for index, value in enumerate(data[key]))
