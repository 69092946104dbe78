"""`bench env`: the hardware and software block results are measured on."""

from __future__ import annotations

from bench.measure.environment import collect_environment
from bench.report.console import out
from bench.report.tables import environment_panel


def env() -> None:
    """Show OS, CPU, cores, RAM, library versions, CUDA/GPU and ONNX Runtime providers."""
    out.print(environment_panel(collect_environment()))
