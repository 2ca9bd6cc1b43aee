"""One module per payout mutation."""
