"""ONNX Runtime execution providers as an environment table shows them: installed is not runnable."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bench.report.tabular import Row, TableData

# Providers that run only on a GPU: onnxruntime-gpu lists them wherever it is installed, GPU or not.
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "NvTensorRTRTXExecutionProvider",
                 "ROCMExecutionProvider", "MIGraphXExecutionProvider")
NO_GPU = "installed, no GPU: cannot run"
PROVIDERS_ROW = "ONNX Runtime providers"


def provider_text(environment: dict[str, Any]) -> str:
    """The providers of `environment`, each GPU one marked when the machine has no GPU CUDA can use."""
    providers = list(environment.get("onnxruntime_providers_available") or [])
    gpu = bool((environment.get("cuda") or {}).get("available"))
    return ", ".join(f"{p} ({NO_GPU})" if p in GPU_PROVIDERS and not gpu else p for p in providers)


def mark_providers(table: TableData, environment: dict[str, Any]) -> TableData:
    """An environment table whose providers row says which installed providers cannot run on its machine."""
    rows = tuple(Row((row.cells[0], provider_text(environment)), row.note, row.style)
                 if row.cells and row.cells[0] == PROVIDERS_ROW else row for row in table.rows)
    return replace(table, rows=rows)
