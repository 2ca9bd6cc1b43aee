"""Bank transfer payouts: SEPA credit transfers (pain.001) and US ACH credits (NACHA) written in
batches to an outbox folder, and bank status files (pain.002, ACH returns) read back.

Modules: `provider` (SepaProvider `sepa`, AchProvider `ach`), `config` (from the environment),
`sepa` and `ach` (the file formats), `outbox` (batches and the manifest), `status` (reports read
back), `camt` (camt.053/054 statements) and `records` (what the bank says it paid, for
reconciliation). Import from the modules: this package imports nothing
so that `diamonds` starts fast.
"""
