"""bench: train, export and benchmark the reference models."""

__version__ = "0.1.0"
