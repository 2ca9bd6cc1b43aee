"""One module per wallet mutation."""
