"""`bench models`: the model registry as a table."""

from __future__ import annotations

from bench.measure.flops import count_flops
from bench.report.console import out
from bench.report.tables import models_table
from train.registry import get_model, model_names


def models() -> None:
    """List the reference models: dataset, parameters, input shape, FLOPs at batch 1."""
    rows = []
    for name in model_names():
        spec = get_model(name)
        params = sum(p.numel() for p in spec.build(seed=0).parameters())
        rows.append((spec, params, count_flops(spec)))
    out.print(models_table(rows))
