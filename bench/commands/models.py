"""`bench models`: the model registry as a table."""

from __future__ import annotations

from bench.commands.options import FORMAT
from bench.measure.flops import count_flops
from bench.report.console import print_tables
from bench.report.render import check_format
from bench.report.tables import models_table
from train.registry import get_model, model_names


def models(fmt: str = FORMAT) -> None:
    """List the reference models: dataset, parameters, input shape, FLOPs at batch 1."""
    check_format(fmt)
    rows = []
    for name in model_names():
        spec = get_model(name)
        params = sum(p.numel() for p in spec.build(seed=0).parameters())
        rows.append((spec, params, count_flops(spec)))
    print_tables([models_table(rows)], fmt)
