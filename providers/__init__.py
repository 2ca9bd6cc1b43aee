"""Payout providers: the SDK every provider implements and the built-in providers.

Providers never import the database; the payout pipeline calls them with plain data classes.
"""
