"""What a run covers: parse and validate the model, runtime and batch axes, and expand them into cases."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bench.errors import BenchError
from bench.records.schema import REFERENCE_RUNTIME
from bench.runtimes import default_runtime_names, get_runtime, runtime_names
from train.registry import CORA_NUM_NODES, default_model_names, get_model, model_names

DEFAULT_BATCH_SIZES = (1, 64)


@dataclass(frozen=True)
class Case:
    """One benchmark row: a model on a runtime and device at one input size."""

    model: str
    runtime: str
    device: str  # "cpu" | "cuda" (as asked; the session records the exact device)
    size: int  # batch size, or node count for a graph model
    is_graph: bool

    @property
    def unit(self) -> str:
        """What `size` counts: samples per batch, or graph nodes."""
        return "nodes" if self.is_graph else "samples"

    @property
    def id(self) -> str:
        """pytest id, e.g. `mnist-mlp-onnxruntime-cpu-b64` or `cora-gcn-eager-cpu-n2708`."""
        return f"{self.model}-{self.runtime}-{self.device}-{'n' if self.is_graph else 'b'}{self.size}"

    @property
    def group(self) -> str:
        """pytest-benchmark group: every runtime of one model/device/size side by side."""
        return f"{self.model}|{self.device}|{self.size}"


@dataclass(frozen=True)
class PairedCase:
    """One model × size whose runtimes are timed together, in interleaved rounds, against eager."""

    model: str
    device: str
    size: int
    is_graph: bool
    runtimes: tuple[str, ...]  # eager first

    @property
    def id(self) -> str:
        """pytest id, e.g. `mnist-mlp-cpu-b64`."""
        return f"{self.model}-{self.device}-{'n' if self.is_graph else 'b'}{self.size}"


def split_list(text: str | None) -> list[str]:
    """'a, b,,c' -> ['a', 'b', 'c']; None or '' -> []."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def parse_models(text: str | None) -> tuple[str, ...]:
    """Comma-separated model names: the default ones when empty, every registered one for `all`; an unknown
    name is a BenchError naming the valid ones."""
    names = split_list(text) or default_model_names()
    if "all" in names:  # `all`: every registered model, esc50-wave included
        names = [*model_names(), *(n for n in names if n != "all")]
    return tuple(get_model(name).name for name in _unique(names))


def parse_runtimes(text: str | None) -> tuple[str, ...]:
    """Comma-separated runtime names: the default ones when empty, every registered one for `all`; an
    unknown name is a BenchError naming the valid ones."""
    names = split_list(text) or default_runtime_names()
    if "all" in names:
        names = [*runtime_names(), *names]  # `all,compile` or `onnx,all`: every runtime once, eager first
        names = [n for n in names if n != "all"]
    return tuple(_unique(get_runtime(name).name for name in names))  # an alias and its name count once


def parse_batch_sizes(text: str | None) -> tuple[int, ...]:
    """Comma-separated positive integers (default 1,64)."""
    parts = split_list(text)
    if not parts:
        return DEFAULT_BATCH_SIZES
    sizes = []
    for part in parts:
        try:
            size = int(part)
        except ValueError:
            raise BenchError(f"--batch-sizes takes positive integers like 1,64; got {part!r}") from None
        if size < 1:
            raise BenchError(f"--batch-sizes takes positive integers like 1,64; got {size}")
        sizes.append(size)
    return tuple(_unique(sizes))


def build_cases(
    models: Iterable[str], runtimes: Iterable[str], device: str, batch_sizes: Iterable[int]
) -> list[Case]:
    """Model × runtime × size; a graph model gets one size, Cora's full graph, whatever the batch sizes."""
    runtimes, batch_sizes = list(runtimes), list(batch_sizes)
    cases = []
    for model in models:
        spec = get_model(model)
        sizes = [CORA_NUM_NODES] if spec.is_graph else batch_sizes
        for size in sizes:
            for runtime in runtimes:
                cases.append(Case(model, runtime, device, size, spec.is_graph))
    return cases


def build_paired_cases(cases: Iterable[Case]) -> list[PairedCase]:
    """One PairedCase per model × device × size that has the reference runtime and at least one other."""
    groups: dict[tuple[str, str, int, bool], list[str]] = {}
    for case in cases:
        groups.setdefault((case.model, case.device, case.size, case.is_graph), []).append(case.runtime)
    return [PairedCase(model, device, size, is_graph,
                       (REFERENCE_RUNTIME, *[r for r in runtimes if r != REFERENCE_RUNTIME]))
            for (model, device, size, is_graph), runtimes in groups.items()
            if REFERENCE_RUNTIME in runtimes and len(runtimes) > 1]


def _unique(items: Iterable) -> list:
    """Items in first-seen order without repeats."""
    return list(dict.fromkeys(items))
