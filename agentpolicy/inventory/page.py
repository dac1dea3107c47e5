"""The inventory as one self-contained HTML page: filters by owner, stage, approval and review due.

No network and no external asset: the style and the script are inline, and a
Content-Security-Policy lets only those two run (by their hashes), so a string
from a repository that slipped past the escaping still could not load or run
anything. The filter state lives in the address's fragment
(``#stage=production&approval=no``), so a filtered view can be bookmarked.
"""

from __future__ import annotations

import base64
import hashlib

from agentpolicy import __version__
from agentpolicy.inventory.render import summary
from agentpolicy.inventory.run import InventoryResult
from agentpolicy.inventory.store import AgentRow
from agentpolicy.report.safe import html_text as escape

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d2430}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}.muted{color:#5d6878}
form{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0;padding:.6rem;background:#f4f6f9}
label{display:flex;flex-direction:column;font-size:.85rem}select{font:inherit}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;
border-bottom:1px solid #e6e9ef;vertical-align:top}th{background:#f4f6f9;position:sticky;top:0}
.ok{color:#116329;font-weight:600}.bad{color:#b3261e;font-weight:700}code{font-size:.9em}
tr[hidden]{display:none}
"""

_SCRIPT = """
(function () {
  var form = document.getElementById("filters");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#agents tbody tr"));
  var shown = document.getElementById("shown");
  function day(offset) {
    return new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);
  }
  function reviewMatches(choice, due) {
    if (choice === "overdue") return due !== "" && due < day(0);
    if (choice === "soon") return due !== "" && due <= day(30);
    if (choice === "dated") return due !== "";
    if (choice === "none") return due === "";
    return true;
  }
  function apply() {
    var owner = form.owner.value, stage = form.stage.value, approval = form.approval.value;
    var review = form.review.value, count = 0;
    rows.forEach(function (row) {
      var d = row.dataset;
      var keep = (!owner || d.owner === owner) && (!stage || d.stage === stage) &&
        (!approval || d.approved === approval) && reviewMatches(review, d.reviewDue || "");
      row.hidden = !keep;
      if (keep) count += 1;
    });
    shown.textContent = String(count);
  }
  var wanted = new URLSearchParams(location.hash.slice(1));
  ["owner", "stage", "approval", "review"].forEach(function (name) {
    var value = wanted.get(name), field = form[name];
    var known = Array.prototype.some.call(field.options, function (o) { return o.value === value; });
    if (value !== null && known) field.value = value;
  });
  form.addEventListener("change", function () {
    apply();
    var state = new URLSearchParams();
    ["owner", "stage", "approval", "review"].forEach(function (name) {
      if (form[name].value) state.set(name, form[name].value);
    });
    try { history.replaceState(null, "", "#" + state.toString()); } catch (ignored) {}
  });
  apply();
})();
"""


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


_POLICY = (
    f"default-src 'none'; style-src {_hash(_STYLE)}; script-src {_hash(_SCRIPT)}; "
    "img-src 'none'; form-action 'none'; base-uri 'none'"
)


def _options(name: str, label: str, choices: list[tuple[str, str]]) -> str:
    items = "".join(f'<option value="{escape(value)}">{escape(text)}</option>' for value, text in choices)
    return f'<label>{label}<select name="{name}"><option value="">all</option>{items}</select></label>'


def _owner_key(agent: AgentRow) -> str:
    return agent.owner_email or agent.owner_name


def _row(agent: AgentRow) -> str:
    approved = (
        f'<span class="ok">yes</span> ({escape(", ".join(agent.approvers))})'
        if agent.approved
        else '<span class="bad">NO</span>'
    )
    if agent.unapproved_changes:
        approved += f'<br><span class="bad">{agent.unapproved_changes} unapproved change(s)</span>'
    owner = escape(agent.owner_name) + (f" &lt;{escape(agent.owner_email)}&gt;" if agent.owner_email else "")
    return (
        f'<tr data-owner="{escape(_owner_key(agent))}" data-stage="{escape(agent.stage)}" '
        f'data-approved="{"yes" if agent.approved else "no"}" '
        f'data-review-due="{escape(agent.review_due or "")}">'
        f"<td>{escape(agent.repository)}</td><td><strong>{escape(agent.name)}</strong><br>"
        f'<code class="muted">{escape(agent.path)}</code></td><td>{escape(agent.stage)}</td>'
        f"<td>{escape(agent.version)}</td><td>{owner}</td><td>{approved}</td>"
        f"<td>{escape(agent.review_due or '-')}</td><td>{escape(', '.join(agent.open_gaps) or '-')}</td></tr>"
    )


def render_page(result: InventoryResult) -> str:
    counts = summary(result)
    labels: dict[str, str] = {}
    for agent in result.agents:
        labels.setdefault(
            _owner_key(agent), agent.owner_name + (f" <{agent.owner_email}>" if agent.owner_email else "")
        )
    owners = sorted(labels.items(), key=lambda item: item[1])
    stages = sorted({agent.stage for agent in result.agents})
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Agent inventory</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Agent inventory</h1>",
        f'<p class="muted">{counts["agents"]} agents in {counts["repositories"]} repositories; '
        f"<strong>{counts['not_approved']} not approved</strong>; {counts['failed']} repositories could not "
        f"be read. Approval is each repository's own audit verdict on the change that produced the "
        f"agent's current content. Generated by agentpolicy {escape(__version__)}.</p>",
        '<form id="filters">',
        _options("owner", "Owner", owners),
        _options("stage", "Stage", [(stage, stage) for stage in stages]),
        _options("approval", "Approved", [("yes", "approved"), ("no", "not approved")]),
        _options(
            "review",
            "Review due",
            [("overdue", "overdue"), ("soon", "within 30 days"), ("dated", "any date"), ("none", "no date")],
        ),
        f'<p>Showing <strong id="shown">{len(result.agents)}</strong> of {len(result.agents)}.</p></form>',
        '<table id="agents"><thead><tr><th>Repository</th><th>Agent</th><th>Stage</th><th>Version</th>'
        "<th>Owner</th><th>Approved</th><th>Review due</th><th>Open gaps</th></tr></thead><tbody>",
        *(_row(agent) for agent in result.agents),
        "</tbody></table>",
    ]
    failed = [repository for repository in result.repositories if repository.status != "ok"]
    if failed:
        out.append('<h2>Repositories that could not be read</h2><ul id="failed">')
        out += [f"<li><code>{escape(r.path)}</code>: {escape(r.error or '?')}</li>" for r in failed]
        out.append("</ul>")
    out.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(out) + "\n"
