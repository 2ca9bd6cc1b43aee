"""One module per purchase mutation."""
