"""Export formats: one module each behind `ExportFormat`, listed once here; the pipeline iterates the list."""

from __future__ import annotations

from export.formats.aoti import AotiFormat
from export.formats.base import ExportFormat, Saved
from export.formats.onnx_int8 import OnnxInt8Format
from export.formats.onnx_model import OnnxFormat
from export.formats.torchscript import TorchScriptFormat
from train.errors import BenchError

# The one list. Adding a format: its module, and one line here.
EXPORT_FORMATS: tuple[ExportFormat, ...] = (TorchScriptFormat(), OnnxFormat(), AotiFormat(), OnnxInt8Format())


def format_names() -> tuple[str, ...]:
    """Every export format's name, in export order."""
    return tuple(f.name for f in EXPORT_FORMATS)


def default_format_names() -> tuple[str, ...]:
    """The formats `bench export` makes when none are named: all but those that compile for minutes."""
    return tuple(f.name for f in EXPORT_FORMATS if f.default)


def get_format(name: str) -> ExportFormat:
    """The format called `name`; an unknown name is a BenchError listing the valid ones."""
    for fmt in EXPORT_FORMATS:
        if fmt.name == name:
            return fmt
    raise BenchError(f"unknown export format {name!r}; choose one of: {', '.join(format_names())}")


__all__ = ["EXPORT_FORMATS", "ExportFormat", "Saved", "default_format_names", "format_names", "get_format"]
