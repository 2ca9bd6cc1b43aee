"""Coin purchases: a viewer buys a coin bundle through a payment provider; the coins are credited
once, when the provider's verified webhook says the payment succeeded.
"""
