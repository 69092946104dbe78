"""`bench env`: the hardware and software block results are measured on."""

from __future__ import annotations

from bench.commands.options import FORMAT
from bench.measure.environment import collect_environment
from bench.report.console import print_tables
from bench.report.providers import mark_providers
from bench.report.render import check_format
from bench.report.tables import environment_table


def env(fmt: str = FORMAT) -> None:
    """Show OS, CPU, cores, RAM, library versions, CUDA/GPU and ONNX Runtime providers (those that need a GPU
    this machine lacks marked as unable to run)."""
    check_format(fmt)
    environment = collect_environment()
    print_tables([mark_providers(environment_table(environment), environment)], fmt)
