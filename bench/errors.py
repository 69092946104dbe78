"""User-facing errors: one clear line, exit code 2 (defined in train/, the lowest layer)."""

from train.errors import BenchError

__all__ = ["BenchError"]
