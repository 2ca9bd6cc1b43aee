"""Acme payouts for Diamonds: the provider (`provider.AcmeProvider`, slug `acme`), the stand-in for
Acme's HTTP API (`api.AcmeApi`) and the conformance suite's sandbox for it (`sandbox`).
"""
