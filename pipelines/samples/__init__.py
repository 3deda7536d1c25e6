"""Tooling apart from the product: the synthetic sample city, its returns and broken returns, and `init`."""
