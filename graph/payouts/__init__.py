"""Payouts in the API: creators request and follow theirs; FINANCE reviews, retries, resolves."""
