"""The model registry: one `ModelSpec` per reference model, filled by `register_model`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from train.errors import BenchError, did_you_mean

# Cora's real size: what `bench run` benchmarks graph models at by default.
CORA_NUM_NODES = 2708
CORA_NUM_EDGES = 10556
CORA_NUM_FEATURES = 1433
# A trained variant of a model is addressed as <model>@<name> (mnist-cnn@adam): its own checkpoint, record,
# TensorBoard runs and exports, never overwriting the model's or another variant's.
VARIANT_MARK = "@"
_VARIANT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True)
class TensorSpec:
    """One model input: name, shape with symbolic dims as strings, dtype, value kind."""

    name: str
    shape: tuple[int | str, ...]
    dtype: torch.dtype = torch.float32
    kind: str = "features"  # "features" | "edge_index"

    def dynamic_dims(self) -> dict[int, str]:
        """Axis index -> symbolic name for every dynamic axis."""
        return {i: d for i, d in enumerate(self.shape) if isinstance(d, str)}


@dataclass(frozen=True)
class ModelSpec:
    """A registered reference model: how to build it and what it eats."""

    name: str
    dataset: str
    num_classes: int
    builder: Callable[..., nn.Module]
    inputs: tuple[TensorSpec, ...]
    description: str = ""
    is_graph: bool = False
    default_kwargs: dict = field(default_factory=dict)
    label: str = ""  # the name the report gives it ("GCN"); tables fall back to `name`
    # The model whose trained checkpoint this one loads; it is not trained on its own ("": trained itself).
    weights_of: str = ""
    # In a run that names no models (`bench run`): the reports' eight are; an addition that costs minutes
    # per run (esc50-wave: 5 s of raw audio per sample) runs when named, or with `--models all`.
    default: bool = True
    variant: str = ""  # the trained variant's name ("" for the model itself): name is <model>@<variant>

    @property
    def title(self) -> str:
        """The report's name for the model, else its registry name."""
        return self.label or self.name

    @property
    def base_name(self) -> str:
        """The registered model a variant is of (its own name for the model itself)."""
        return self.name.partition(VARIANT_MARK)[0]

    def build(self, seed: int | None = 0, **overrides) -> nn.Module:
        """A fresh model in eval mode; `seed` fixes the initial weights (None: leave RNG alone)."""
        if seed is not None:
            torch.manual_seed(seed)
        kwargs = {**self.default_kwargs, **overrides}
        return self.builder(**kwargs).eval()

    @property
    def input_names(self) -> list[str]:
        """Input names in call order."""
        return [t.name for t in self.inputs]

    def sample_shape(self) -> str:
        """Human-readable shape of one sample (batch/graph dims symbolic)."""
        return " · ".join(f"{t.name}{tuple(t.shape)}".replace("'", "") for t in self.inputs)

    def example_inputs(
        self, size: int | None = None, *, num_edges: int | None = None, seed: int = 0
    ) -> tuple[torch.Tensor, ...]:
        """Random inputs: `size` is the batch size, or the node count for graph models."""
        gen = torch.Generator().manual_seed(seed)
        if self.is_graph:
            nodes = size or CORA_NUM_NODES
            edges = num_edges or max(1, round(nodes * CORA_NUM_EDGES / CORA_NUM_NODES))
            return _graph_inputs(self.inputs, nodes, edges, gen)
        batch = size or 1
        return tuple(_dense_input(t, batch, gen) for t in self.inputs)


def _dense_input(spec: TensorSpec, batch: int, gen: torch.Generator) -> torch.Tensor:
    """A standard-normal tensor for `spec` with its batch axis set to `batch`."""
    shape = [batch if d == "batch" else d for d in spec.shape]
    return torch.randn(*shape, generator=gen, dtype=spec.dtype)


def _graph_inputs(
    specs: tuple[TensorSpec, ...], nodes: int, edges: int, gen: torch.Generator
) -> tuple[torch.Tensor, ...]:
    """Sparse binary node features (like Cora's bag of words) and random directed edges."""
    out = []
    for spec in specs:
        if spec.kind == "edge_index":
            out.append(torch.randint(0, nodes, (2, edges), generator=gen, dtype=torch.int64))
        else:
            feats = spec.shape[-1]
            # Cora rows have ~18 of 1433 words set: keep that density so kernels see real sparsity.
            x = (torch.rand(nodes, feats, generator=gen) < 0.0127).to(spec.dtype)
            out.append(x)
    return tuple(out)


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add `spec` to the registry; a duplicate name or a dataset without a spec is a programming error."""
    from train.data.registry import dataset_names, get_dataset

    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is already registered")
    if spec.dataset not in dataset_names():
        raise ValueError(f"model {spec.name!r} trains on {spec.dataset!r}, which has no DatasetSpec")
    if spec.is_graph != (get_dataset(spec.dataset).kind == "graph"):
        raise ValueError(f"model {spec.name!r}: is_graph disagrees with dataset {spec.dataset!r}")
    _REGISTRY[spec.name] = spec
    return spec


def _ensure_loaded() -> None:
    """Import the model modules so that their `register_model` calls have run."""
    import train.models  # noqa: F401


def model_names() -> list[str]:
    """All registered model names, in registration order."""
    _ensure_loaded()
    return list(_REGISTRY)


def default_model_names() -> list[str]:
    """The models a run that names none covers (`ModelSpec.default`), in registration order."""
    _ensure_loaded()
    return [name for name, spec in _REGISTRY.items() if spec.default]


def get_model(name: str) -> ModelSpec:
    """The spec for `name`; unknown names raise BenchError listing the valid ones."""
    _ensure_loaded()
    base, mark, variant = str(name).partition(VARIANT_MARK)
    try:
        spec = _REGISTRY[base]
    except KeyError:
        valid = ", ".join(_REGISTRY)
        raise BenchError(f"unknown model {base!r}{did_you_mean(base, _REGISTRY)}; choose one of: {valid}") \
            from None
    return variant_of(spec, variant) if mark else spec


def check_variant_name(variant: str) -> str:
    """`variant` when it can name a trained variant (lower-case letters, digits, '.', '_', '-'; at most 64,
    a file name on every system); BenchError otherwise."""
    if not _VARIANT_NAME.fullmatch(variant):
        raise BenchError(f"variant name {variant!r} must be 1-64 of a-z, 0-9, '.', '_', '-' (starting with a "
                         "letter or digit), e.g. --name adam")
    return variant


def variant_of(spec: ModelSpec, variant: str) -> ModelSpec:
    """The spec of `spec`'s trained variant `variant`: the same architecture and inputs under the name
    <model>@<variant> (a model running another's weights runs that model's variant of the same name)."""
    check_variant_name(variant)
    return replace(spec, name=f"{spec.name}{VARIANT_MARK}{variant}", variant=variant, default=False,
                   label=f"{spec.title} [{variant}]",
                   weights_of=f"{spec.weights_of}{VARIANT_MARK}{variant}" if spec.weights_of else "")


def models_for_dataset(dataset: str, trained_only: bool = False) -> list[ModelSpec]:
    """Registered models of `dataset`; `trained_only`: only those `bench train` trains (no `weights_of`)."""
    _ensure_loaded()
    return [s for s in _REGISTRY.values() if s.dataset == dataset and not (trained_only and s.weights_of)]
