"""Wallets in the API: a user's coin and diamond wallets, their history, and granting coins."""
