"""The payout pipeline: creators request payouts, FINANCE reviews them, a worker dispatches them
through the providers with retries, and webhooks and lookups settle them.
"""
