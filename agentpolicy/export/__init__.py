"""`agentpolicy export`: the approved autonomy boundary in the shapes runtime guards read.

Formats: ``boundary`` (our JSON, read back by `agentpolicy.runtime.Boundary`),
``opa`` (a data document and a Rego module), ``mcp`` (MCP tool annotations)
and ``a2a`` (an A2A AgentCard extension).

Imports from the core, to be renamed when the package is restructured:
``agentpolicy.app.audit`` (AuditRequest, run_audit), ``agentpolicy.app.status``
(run_status), ``agentpolicy.git.repo`` (Repo), ``agentpolicy.rules.engine``
(load_agent), ``agentpolicy.errors``, ``agentpolicy.files.atomic`` and
``agentpolicy.report.safe`` (json_text).
"""
