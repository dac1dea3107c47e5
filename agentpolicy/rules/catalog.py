"""Metadata of the rules that need Python (parsing, cross-file checks, the change gate).

The declarative rules live as YAML in the policy pack; these cannot be
expressed as a JSON Schema over one file, but report with the same metadata.
"""

from __future__ import annotations

from agentpolicy.model.document import ERROR, WARNING
from agentpolicy.rules import RuleInfo, python_rule

PYTHON_RULES: dict[str, RuleInfo] = {
    rule.id: rule
    for rule in (
        python_rule(
            "AP001",
            "valid-yaml",
            ERROR,
            "the file is not a single, plain, UTF-8 YAML document",
            "fix the syntax; no tags, aliases, tabs or binary content",
            "Agent files are parsed strictly: one document, UTF-8, no tags that build "
            "objects, no aliases, no merge keys, bounded size and depth.",
        ),
        python_rule(
            "AP002",
            "no-duplicate-keys",
            ERROR,
            "a mapping defines the same key twice",
            "keep one of the two keys",
            "YAML parsers disagree on which duplicate wins, so a reviewer could approve "
            "a value that is not the one in force.",
        ),
        python_rule(
            "AP003",
            "printable-file-name",
            ERROR,
            "an agent file's name holds control characters or bytes that are not UTF-8",
            "rename the file to printable UTF-8 (git mv)",
            "Such a name prints as something it is not (an escape, or nothing at all), so a "
            "reviewer cannot tell which file a change is about. The file is still judged.",
        ),
        python_rule(
            "AP100",
            "schema",
            ERROR,
            "the agent definition does not match the agent schema",
            "see `agentpolicy schema` for the fields and their types",
            "Fields, types and formats of the agent definition v1 (apiVersion agentpolicy/v1).",
        ),
        python_rule(
            "AP101",
            "owner-is-one-person",
            ERROR,
            "the owner is not exactly one person with a name and an email",
            "name one accountable person: `owner: {name: ..., email: ...}`",
            "An owner is one named person, not a team, a list or a group address "
            "(GitHub team handles like @org/team and addresses listed under `teams` "
            "in .agentpolicy.yaml are refused).",
        ),
        python_rule(
            "AP102",
            "unique-actions",
            ERROR,
            "an action id is listed more than once",
            "keep each action once",
            "Every action id in the autonomy boundary is unique.",
        ),
        python_rule(
            "AP103",
            "action-on-one-side",
            ERROR,
            "an action is both autonomous and requires confirmation",
            "keep the action in exactly one of the two lists",
            "The boundary must be unambiguous: an action is taken alone or confirmed first.",
        ),
        python_rule(
            "AP140",
            "unique-names",
            ERROR,
            "two agent files use the same agent name",
            "rename one of the agents; names identify agents across the repo",
            "Agents are matched by name across history and in review entries, so a name "
            "is unique in the repo.",
        ),
        python_rule(
            "AP150",
            "waiver-expired",
            ERROR,
            "a waiver in .agentpolicy.yaml has expired",
            "fix the finding it covered, or renew the waiver with its owner",
            "Waivers are time-boxed exceptions; once expired they fail loudly, naming their owner.",
        ),
        python_rule(
            "AP201",
            "review-required",
            ERROR,
            "a governed change has fewer approving review entries than required",
            "ask a reviewer to run: agentpolicy approve AGENT, and commit the entry with the change",
            "Creating, retiring or deleting an agent, and any change to its governed content "
            "(name, version, stage, owner, autonomy, undo, change_control), needs approving "
            "review entries bound to exactly the new content, from distinct reviewers, at least "
            "change_control.approvals_required of them. Approvals are counted per distinct signing key.",
        ),
        python_rule(
            "AP202",
            "bump-version",
            ERROR,
            "the autonomy boundary or the stage changed without a version bump",
            "bump `version`",
            "A boundary or stage change is a new version of the agent, approved as such.",
        ),
        python_rule(
            "AP203",
            "rejected",
            ERROR,
            "a reviewer rejected exactly this content",
            "address the review, change the agent and ask for a new review",
            "Any `reject` entry for the same content blocks the change.",
        ),
        python_rule(
            "AP204",
            "valid-review-entry",
            ERROR,
            "a review entry is malformed or misplaced",
            "entries are written by `agentpolicy approve`; add a new one rather than editing",
            "Review entries follow the review schema (`agentpolicy schema --kind review`) and "
            "live under <reviews>/<agent>/.",
        ),
        python_rule(
            "AP205",
            "separation-of-duties",
            ERROR,
            "the author of a change approved it",
            "ask someone who did not author the change to approve it",
            "A reviewer may not approve a change they authored or committed (staged mode: the "
            "author and committer git would record), unless allow_self_approval is true. Every "
            "principal the signing key is allowed for is compared, not only the entry's e-mail.",
        ),
        python_rule(
            "AP206",
            "review-matches-content",
            ERROR,
            "a review entry added in this change is for other content",
            "ask for a review of the current content",
            "An entry counts only for the exact agent, version and governed-content digest it names. "
            "When other entries approve the change, an entry for superseded content (an earlier review "
            "round in the same pull request) is only a warning: nobody has to delete a signed entry.",
        ),
        python_rule(
            "AP207",
            "review-names-known-agent",
            WARNING,
            "a review entry names an agent that does not exist",
            "check the agent name",
            "An added entry should approve an agent defined on one side of the change.",
        ),
        python_rule(
            "AP208",
            "approval-consumed",
            ERROR,
            "a review entry was signed before the latest review already recorded for its subject",
            "ask for a new review of this content: agentpolicy approve AGENT",
            "An approval is consumed by the change it approved: an entry counts only if it was signed "
            "after every entry the before side already holds for that agent (or for the trust root), "
            "so returning to earlier content, re-creating a retired agent or copying an old entry "
            "needs a new approval.",
        ),
        python_rule(
            "AP209",
            "up-to-date-with-target",
            ERROR,
            "the target branch changed this agent since the branch was forked",
            "merge or rebase the target branch, then ask for a review of the result",
            "A range check judges merge-base -> head; when the target branch also changed the agent, "
            "what lands is a merge of both contents that nobody reviewed. The target branch's rules "
            "and signers bind the check as well as the merge base's.",
        ),
        python_rule(
            "AP210",
            "append-only-reviews",
            ERROR,
            "an existing review entry was modified or deleted",
            "restore it; retract a decision by adding a new entry",
            "Review entries are evidence: once committed they are never edited or removed.",
        ),
        python_rule(
            "AP211",
            "break-glass",
            WARNING,
            "a change passes on an emergency (break-glass) entry, or a break-glass entry is not allowed",
            "regular approvals of the same content must follow within break_glass.follow_up_days",
            "With `break_glass: {allowed: true}` in the before side's configuration, one valid "
            "break-glass entry by an allowed signer (even the author) approves an agent change, "
            "loudly; `audit --strict` fails once follow_up_days have passed without regular "
            "approvals of that content. Without the setting a break-glass entry is an error.",
        ),
        python_rule(
            "AP212",
            "review-due",
            WARNING,
            "an agent's newest approval of its current content is older than review_every",
            "re-approve the unchanged content: agentpolicy approve AGENT, and commit the entry",
            "`review_every` (configuration, or `change_control.review_every` per agent) asks for "
            "a re-attestation: a fresh approval of unchanged content restarts the clock. A "
            "warning: it never blocks an unrelated commit (`status --strict` fails on overdue "
            "production agents).",
        ),
        python_rule(
            "AP220",
            "trust-root-change",
            ERROR,
            "the signature settings or the allowed/revoked signers changed without approval",
            "ask an existing signer to run: agentpolicy approve --trust-root",
            "Who may approve is itself governed: a change to allowed_signers, revoked_signers or "
            "require_signatures needs a signed approval from an existing signer, and never "
            "applies to the change that makes it.",
        ),
        python_rule(
            "AP300",
            "allowed-signers-present",
            ERROR,
            "there is no allowed-signers file to verify signatures against",
            "create the allowed-signers file (see README: Signatures)",
            "With require_signatures (the default), entries are verified against the allowed "
            "signers of the before side.",
        ),
        python_rule(
            "AP301",
            "entry-signed",
            ERROR,
            "a review entry is not signed",
            "re-approve with a signing key: agentpolicy approve AGENT --key KEY",
            "Anyone can type a name into a file; only a signature shows who approved.",
        ),
        python_rule(
            "AP302",
            "signature-readable",
            ERROR,
            "a review entry's signature block is garbled or truncated",
            "ask the reviewer for a new entry",
            "The signature must be a complete SSHSIG block.",
        ),
        python_rule(
            "AP303",
            "signature-namespace",
            ERROR,
            "a signature was made for another purpose (namespace)",
            "sign with agentpolicy approve",
            "Only signatures in the agentpolicy-review namespace count, so a git commit or e-mail "
            "signature can never be replayed as an approval.",
        ),
        python_rule(
            "AP304",
            "key-not-revoked",
            ERROR,
            "the signing key is revoked",
            "sign with a current key",
            "Keys in the revocation list (revoked_signers) never count.",
        ),
        python_rule(
            "AP305",
            "signer-allowed",
            ERROR,
            "the signing key is not in the allowed signers of the before side",
            "ask a listed reviewer, or land the new signer first",
            "The trust root is the before side's allowed-signers file: a signer added in the "
            "same change cannot approve it.",
        ),
        python_rule(
            "AP306",
            "signer-is-reviewer",
            ERROR,
            "the signing key does not belong to the reviewer named in the entry",
            "an entry must be signed by the reviewer it names",
            "The principal of the signing key must equal the reviewer's e-mail.",
        ),
        python_rule(
            "AP307",
            "key-in-validity-window",
            ERROR,
            "the signing key is outside its valid-after/valid-before window",
            "sign with a key valid now",
            "In the gate, validity is judged at the time of the check, never at a timestamp the "
            "signer wrote.",
        ),
        python_rule(
            "AP308",
            "signature-valid",
            ERROR,
            "the signature does not verify for the entry's content",
            "ask the reviewer for a new signed entry",
            "Every field of the entry is signed; an edit after signing breaks the signature.",
        ),
    )
}

# Conformance of runtime logs (agentpolicy conformance) has rules of its own, kept apart
from agentpolicy.rules.catalog_runtime import RUNTIME_RULES  # noqa: E402 - after the base catalog

PYTHON_RULES.update(RUNTIME_RULES)
