"""Gifts in the API: the catalog, coin bundles, and sending a gift into a live stream."""
