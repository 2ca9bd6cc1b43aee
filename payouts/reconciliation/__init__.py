"""Reconciliation: what a provider's own records say left, against what our payouts say left,
per provider and period; each payout in one class, exceptions kept for FINANCE."""
