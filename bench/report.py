"""Rich tables: the only module that formats results for people."""

from __future__ import annotations

from rich.table import Table

from train.registry import ModelSpec


def format_count(n: float) -> str:
    """1234567 -> '1.23 M' (k, M, G, T)."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f}"


def models_table(rows: list[tuple[ModelSpec, int, int]]) -> Table:
    """Registry table: name | dataset | parameters | input | FLOPs @1 (graphs: full Cora)."""
    table = Table(title="Reference models")
    for col in ("model", "dataset", "parameters", "input (one sample)", "FLOPs @ batch 1"):
        table.add_column(col, justify="right" if col in ("parameters", "FLOPs @ batch 1") else "left")
    for spec, params, flops in rows:
        flops_cell = format_count(flops) + (" (2708 nodes)" if spec.is_graph else "")
        table.add_row(spec.name, spec.dataset, f"{params:,}", spec.sample_shape(), flops_cell)
    return table
