"""Reconciliation in the API: FINANCE's runs, their totals and exceptions, starting a run and
resolving an exception; nobody else sees any of it."""
