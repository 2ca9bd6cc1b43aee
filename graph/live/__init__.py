"""Live: subscriptions over websockets (gifts, leaderboards, wallets, payouts), fanned out
to every server process."""
