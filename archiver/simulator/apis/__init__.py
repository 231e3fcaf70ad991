"""One module per fake provider, each written from that provider's documentation."""
