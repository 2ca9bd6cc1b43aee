"""Coin purchases in the API: buying a coin bundle through the payment provider."""
