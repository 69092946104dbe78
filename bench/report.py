"""Rich tables: the only module that formats results for people."""

from __future__ import annotations

from rich.panel import Panel
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


def environment_panel(environment: dict) -> Panel:
    """The hardware/software block as a two-column Rich panel."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in environment_rows(environment):
        grid.add_row(label, value)
    return Panel(grid, title="Environment", expand=False)


def environment_rows(environment: dict) -> list[tuple[str, str]]:
    """(label, value) pairs of the environment block, shared by every output format."""
    cuda = environment.get("cuda", {})
    gpu = ", ".join(cuda.get("gpus", [])) if cuda.get("available") else "none (CUDA not available)"
    packages = environment.get("packages", {})
    return [
        ("OS", str(environment.get("os"))),
        ("CPU", str(environment.get("cpu"))),
        ("cores", f"{environment.get('physical_cores')} physical, "
                  f"{environment.get('logical_cores')} logical"),
        ("threads used", str(environment.get("threads_used"))),
        ("RAM", f"{environment.get('ram_gib')} GiB"),
        ("Python", str(environment.get("python"))),
        ("packages", ", ".join(f"{k} {v}" for k, v in packages.items())),
        ("CUDA", f"torch built for {cuda.get('torch_cuda_build')}, cuDNN {cuda.get('cudnn')}, "
                 f"driver {cuda.get('driver', 'n/a')}"),
        ("GPU", gpu),
        ("ONNX Runtime providers", ", ".join(environment.get("onnxruntime_providers_available", []))),
        ("git commit", str(environment.get("git_commit"))),
    ]


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def comparison_table(result) -> Table:
    """`bench compare` table: row | before | after | delta | vs eager before/after | verdict."""
    table = Table(title=f"{result.metric} latency (ms), regression above +{result.threshold_pct:g} %")
    for col in ("model", "runtime", "device", "batch", "before", "after", "delta",
                "÷ eager before", "÷ eager after", "verdict"):
        table.add_column(col, justify="left" if col in ("model", "runtime", "device", "verdict")
                         else "right")
    for row in result.rows:
        if row.before_ms is None and row.after_ms is not None:
            verdict = "only in after"
        elif row.after_ms is None and row.before_ms is not None:
            verdict = "only in before"
        elif row.delta_pct is None:
            verdict = "no figure"
        else:
            verdict = "[red]REGRESSED[/red]" if row.regressed else "ok"
        delta = "—" if row.delta_pct is None else f"{row.delta_pct:+.1f} %"
        table.add_row(*row.key, _ms(row.before_ms), _ms(row.after_ms), delta,
                      _ratio(row.before_vs_eager), _ratio(row.after_vs_eager), verdict)
    return table
