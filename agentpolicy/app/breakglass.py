"""Break-glass is opt-in: `approve --break-glass` is refused unless the committed configuration allows it."""

from __future__ import annotations

from typing import Any

from agentpolicy.errors import AgentPolicyError, ConfigError
from agentpolicy.rules.config import CONFIG_PATH, Config, load_config

CONFIG_LINE = "break_glass: {allowed: true, follow_up_days: 3}"


def require_break_glass(repo: Any, reason: str | None) -> Config:
    """The before side's configuration (HEAD: what judges the commit), if it allows break-glass.

    Why HEAD and not the working tree: the judge reads the before side, so an entry that the
    working tree's configuration would allow could never count; refusing now says so early.
    """
    if not (reason or "").strip():
        raise AgentPolicyError(
            "--break-glass needs --reason TEXT: the emergency is recorded, signed, in the entry",
            'e.g. agentpolicy approve billing-cycle --break-glass --reason "INC-4711: invoices stuck"',
        )
    try:
        config = load_config(repo.head_snapshot().read(CONFIG_PATH)) if repo.has_head else Config()
    except ConfigError:
        config = Config()
    if not config.break_glass_allowed:
        raise AgentPolicyError(
            f"break-glass is not allowed by the committed {CONFIG_PATH}",
            f"add this line to {CONFIG_PATH}: {CONFIG_LINE}  (a trust-root change: approve it with "
            "`agentpolicy approve --trust-root` and commit it; it applies once it has landed)",
        )
    return config
