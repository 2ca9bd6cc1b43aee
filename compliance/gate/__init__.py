"""The compliance gate: its pure policy (`rules.py`: `GatePolicy`, `Requirement`, `Eligibility`)
and the gate the payouts pipeline and coin purchases ask (`service.py`), which only reads.
"""
