"""Compliance mutations, one per file."""
