"""Users in the API: the caller (`me`) and the users that streams and leaderboards name."""
