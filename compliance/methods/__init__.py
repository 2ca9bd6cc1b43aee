"""Payout methods: a creator's details for one provider (`rules.py`), the stored methods
(`store.py`), and the service that adds and reviews them (`service.py`).
"""
