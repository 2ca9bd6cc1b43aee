"""Sanctions screening: the SDN list and its matching (`rules.py`), the lists, screenings and hits
(`store.py`), and the service that loads lists and screens people (`service.py`).
"""
