"""Evidence an auditor can verify without us: bundles, in-toto statements, re-attestation, break-glass.

Imports from the existing modules (the lead rewrites these when the package moves):
``agentpolicy.audit`` (run_audit, AuditRequest, AuditResult), ``agentpolicy.audit_events``,
``agentpolicy.status`` (run_status), ``agentpolicy.config``, ``agentpolicy.gitrepo`` (Repo),
``agentpolicy.history``, ``agentpolicy.reviews``, ``agentpolicy.signing`` (NAMESPACE),
``agentpolicy.sshsig``, ``agentpolicy.report.audit_report``, ``agentpolicy.report.safe``,
``agentpolicy.errors``, ``agentpolicy.digest``.

This ``__init__`` imports nothing, so core modules may import ``evidence.reattest`` and
``evidence.breakglass`` without pulling in the bundle writer.
"""
