"""The audit log in the API: FINANCE and ADMIN read who decided what about whom, filtered and
paged newest first (`types.py`, `schema.py`)."""
