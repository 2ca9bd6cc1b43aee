"""Compliance: identity, tax and sanctions gates that decide whether money may leave.

Policy lives here as plain functions that can be tested without a server or database.
"""
