"""Payouts' state in the money core: the payout record, its status machine with a timestamped
history, and the ledger entries each status change books, exactly once.
"""
