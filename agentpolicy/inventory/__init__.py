"""The fleet view: every agent in every repository, kept in a real database, read incrementally.

``agentpolicy inventory REPO...`` reads each repository in a worker process
(``scan``), with that repository's own configuration and trust root, and
records what it found with one writer in one transaction (``store``) in SQLite
or PostgreSQL (``database``, ``migrations``); ``render`` and ``page`` print it.
The schema is documented in docs/inventory.md.

What it uses from the rest of agentpolicy (the only imports from outside this
package): ``audit.AuditRequest``/``audit.run_audit`` and ``status.run_status``
(every verdict: this package decides no approval itself), ``gitrepo.Repo`` and
``gitrepo.FETCH_FULL_HISTORY``, ``derived.code_digest`` (a new agentpolicy reads
every repository again), ``errors.AgentPolicyError``, ``report.safe`` and
``report.audit_report.render_rows`` (output neutralisation and tables).
"""

from __future__ import annotations

from agentpolicy.inventory.run import InventoryRequest, InventoryResult, run_inventory

__all__ = ["InventoryRequest", "InventoryResult", "run_inventory"]
