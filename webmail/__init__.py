"""A fast, live, safe self-hosted webmail."""

__version__ = "0.1.0"
