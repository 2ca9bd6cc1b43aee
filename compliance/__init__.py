"""Compliance: identity, tax, sanctions and payout methods, and the gate that decides whether money
may leave; a peer of economy and payouts that asks neither.

One subpackage per concept (`identity/`, `tax/`, `sanctions/`, `methods/`, `gate/`,
`reporting/`), each with the same names: `rules.py` (plain data and pure rules, tested without a
database), `store.py` (its tables' reads and writes) and `service.py` (the operations, one
transaction each, audited). Shared by them: `service.py` (`Compliance`: the database and the
settings every operation takes), `tables.py`, `audit.py` (the actions written to the kernel's audit
log), `crypto.py` (encryption at rest) and `inputs.py` (checks of raw input).
"""
