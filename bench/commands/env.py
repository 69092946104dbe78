"""`bench env`: the hardware and software block results are measured on."""

from __future__ import annotations

from bench.commands.options import FORMAT
from bench.measure.environment import collect_environment
from bench.report.console import print_tables
from bench.report.render import check_format
from bench.report.tables import environment_table


def env(fmt: str = FORMAT) -> None:
    """Show OS, CPU, cores, RAM, library versions, CUDA/GPU and ONNX Runtime providers."""
    check_format(fmt)
    print_tables([environment_table(collect_environment())], fmt)
