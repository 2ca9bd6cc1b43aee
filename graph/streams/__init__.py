"""Live streams in the API: reading them, their earnings and leaderboard; starting, ending."""
