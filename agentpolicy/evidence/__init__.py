"""Evidence an auditor can verify without us: bundles, in-toto statements, re-attestation, break-glass.

Imports from the existing modules (the lead rewrites these when the package moves):
``agentpolicy.app.audit`` (run_audit, AuditRequest, AuditResult), ``agentpolicy.results.audit``,
``agentpolicy.app.status`` (run_status), ``agentpolicy.rules.config``, ``agentpolicy.git.repo`` (Repo),
``agentpolicy.git.history``, ``agentpolicy.review.entries``, ``agentpolicy.review.signing`` (NAMESPACE),
``agentpolicy.review.sshsig``, ``agentpolicy.report.audit_report``, ``agentpolicy.report.safe``,
``agentpolicy.errors``, ``agentpolicy.model.digest``.

This ``__init__`` imports nothing, so importing the package does not pull in the bundle
writer. Re-attestation and break-glass, which the core needs, live in ``app/reattest.py``
and ``app/breakglass.py``.
"""
