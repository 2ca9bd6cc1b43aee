"""A deterministic, seeded simulation of the money paths (`python -m sim --seed N --steps K`):
one seed drives the actors, the provider's faults, crashes and the clock (docs/simulation.md).
"""
