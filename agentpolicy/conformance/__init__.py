"""`agentpolicy conformance`: what agents did at run time, judged against the boundary git approved then.

Readers (``logs``, ``otlp``) stream events from JSON Lines and OTLP JSON;
``timeline`` turns the audit's verdicts into each agent's approved boundaries
over time (it asks the audit, never decides an approval itself); ``judging``
compares each event with the boundary in force at its time; findings use the
check's reporters.

Imports from the core, to be renamed when the package is restructured:
``agentpolicy.app.audit`` (AuditRequest, run_audit), ``agentpolicy.review.trustroot``
(TRUST_ROOT), ``agentpolicy.git.repo`` (Repo), ``agentpolicy.rules.engine``
(load_agent), ``agentpolicy.errors``, ``agentpolicy.model.document`` (Finding, ERROR),
``agentpolicy.results.check`` (CheckResult), ``agentpolicy.report`` (render_check,
text) and ``agentpolicy.rules.catalog`` (PYTHON_RULES).
"""
