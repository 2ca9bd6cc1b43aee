"""The GraphQL API: a Strawberry schema served by aiohttp, a thin adapter over the economy.

Saleor's layout: one package per domain with `types.py`, `schema.py` and one mutation per file.
"""
