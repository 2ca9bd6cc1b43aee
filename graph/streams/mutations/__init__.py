"""One module per stream mutation."""
