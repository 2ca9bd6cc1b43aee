"""Who moves a payout, as its history records it: a person, by their subject, or the system (the
approval policy, a dispatch worker, a provider's webhook). The history keeps the real actor.
"""

from __future__ import annotations

POLICY = "policy"
"""The request's own rules: approved within the automatic limit, or left to FINANCE."""
WORKER_PREFIX = "worker:"
"""A dispatch worker, `worker:<host>:<pid>` (payouts.dispatch)."""
WEBHOOK_PREFIX = "webhook:"
"""A provider's verified webhook, `webhook:<provider>` (payouts.webhooks)."""
STATEMENT_PREFIX = "statement:"
"""A provider's own statement we read (a bank's status or return file), `statement:<provider>`."""
LOOKUP_PREFIX = "lookup:"
"""What the provider answered when a FINANCE person's action asked it, `lookup:<subject>`."""


def is_system(actor: str) -> bool:
    """True for the policy, a worker, a webhook or a statement; False for a person's subject (or
    a lookup a person's action made)."""
    return actor == POLICY or actor.startswith((WORKER_PREFIX, WEBHOOK_PREFIX, STATEMENT_PREFIX))
