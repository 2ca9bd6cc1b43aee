"""One module per gift mutation."""
