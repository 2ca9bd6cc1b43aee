"""Identity verification (KYC): its rules (`rules.py`), the age arithmetic (`age.py`), the records
(`store.py`), the Stripe Identity client (`stripe_identity.py`) and the service (`service.py`).
"""
