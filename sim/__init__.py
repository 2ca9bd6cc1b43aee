"""A deterministic, seeded simulation of the money paths (`python -m sim --seed N --steps K`): one
seed drives the actors, the provider's moves and faults, crashes and the clock; see docs/simulation.md.
"""
