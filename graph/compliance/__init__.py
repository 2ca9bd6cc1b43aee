"""The compliance part of the API: payout eligibility, identity, tax, payout methods, reviews."""
