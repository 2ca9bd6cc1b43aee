"""The reconciliation mutations, one per module: starting a run, resolving an exception."""
