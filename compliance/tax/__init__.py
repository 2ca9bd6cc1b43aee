"""Tax forms: W-9 and W-8BEN rules (`rules.py`) and TIN checks (`tin.py`), the stored forms
(`store.py`), and the service that submits, reveals and re-encrypts them (`service.py`).
"""
