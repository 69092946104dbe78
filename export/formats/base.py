"""The export-format interface: write an artifact, run it the way a runtime loads it, reload it elsewhere."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from export.trust import is_trusted, trust_store_path
from train.errors import BenchError
from train.registry import ModelSpec

Inputs = tuple[torch.Tensor, ...]


@dataclass(frozen=True)
class Saved:
    """What `ExportFormat.save` wrote: the exporter used, and the format's own manifest fields."""

    exporter: str  # e.g. "torch.jit.script", "torch.export (dynamo)"
    details: dict = field(default_factory=dict)


class ExportFormat(ABC):
    """One artifact kind. Subclasses state their facts as class attributes and are listed in
    export/formats/__init__.py; the pipeline, the clean-interpreter reload and the runtimes only iterate."""

    name: ClassVar[str]  # "torchscript", "onnx", ...: the manifest key and the runtimes' `export_format`
    artifact: ClassVar[str]  # file name inside a model's export folder
    # `bench export` without --formats, and every format of the default runtimes: False for a format that
    # compiles (minutes per model), made only when asked for or when a run's runtimes need it.
    default: ClassVar[bool] = True
    # int8 and other lossy variants: parity against eager uses export.parity.quantized_tolerance.
    quantized: ClassVar[bool] = False
    is_code: ClassVar[bool]  # loading it runs code: only files in the user's trust store, or --trust
    load_needs: ClassVar[tuple[str, ...]]  # modules a clean interpreter imports to run it (beside torch)
    # Source of `run(path, input_names, cases) -> list[torch.Tensor]` for a clean interpreter that may import
    # only torch and `load_needs`: it must load the file as the runtime does, on the CPU.
    reload_source: ClassVar[str]

    def is_current(self, entry: dict) -> bool:
        """Whether an artifact its manifest `entry` describes still loads here as written (an AOTInductor
        package needs the torch that built it); False makes `bench run` export it again."""
        return True

    def unavailable_reason(self) -> str:
        """Why this format cannot be exported here ("" when it can), e.g. no C++ compiler for AOTInductor;
        one line naming what to install. `save` raises with the same line."""
        return ""

    @abstractmethod
    def save(self, model: nn.Module, spec: ModelSpec, example: Inputs, path: Path) -> Saved:
        """Capture eval `model` on `example` and write it to `path` (atomically); raise on failure."""

    @abstractmethod
    def run(self, path: Path, spec: ModelSpec, cases: list[Inputs]) -> list[torch.Tensor]:
        """Outputs of the artifact at `path` on each case, loaded as its runtime loads it, on the CPU."""

    def vouched_path(self, model_dir: Path) -> Path:
        """The artifact in `model_dir`, if this user's `bench export` wrote it (export/trust.py).

        An artifact that is code runs when loaded: only a file whose sha256 is in the user's trust store
        (outside the results folder) loads without the user's explicit `--trust`; the manifest beside it
        cannot vouch, since whoever can swap the file can rewrite it. Anything else is a BenchError."""
        path = Path(model_dir) / self.artifact
        hint = f"re-run `bench export {Path(model_dir).name}`, or pass --trust to load it anyway"
        if not path.is_file():
            raise BenchError(f"refusing to load {path}: there is no such file; {hint}")
        if not is_trusted(path):
            raise BenchError(f"refusing to load {path}: it is code and your `bench export` did not write it "
                             f"(its sha256 is not in your trust store {trust_store_path()}); {hint}")
        return path
