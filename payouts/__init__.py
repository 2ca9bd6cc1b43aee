"""Payouts, one domain package: the payout record and its status machine, its attempts at the
provider and discrepancies, the pipeline (request, review, dispatch, webhooks) and its gate.
"""
