"""Benchmarks, run by hand (not in the test suite): `python -m bench.gift_storm`,
`python -m bench.ledger`, `python -m bench.fanout` and `python -m bench.payouts`, each with
`--quick` for a short run. Each prints its figures and writes `bench/results/<name>.json`."""
