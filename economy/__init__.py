"""The gifting economy: users, the gift catalog, coin bundles, live streams, sending gifts and
granting coins. Domain services over the ledger; the GraphQL layer is a thin adapter over these.
"""
