"""The `diamonds` subcommands beyond the core ones in `diamonds/cli.py`, one module per group:
payouts and the worker, bank files, compliance.
"""
