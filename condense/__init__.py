"""condense: dataset condensation with attention masks (Kim & Bae, IPIU 2022) and its baselines."""

__version__ = "0.1.0"
