"""The runtime interface: load an exported artifact onto a device, bind inputs once, call it in a loop."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

import torch

from bench.errors import BenchError
from bench.measure.precision import FP32, PrecisionPolicy
from export.formats import get_format
from export.layout import WEIGHTS_FILE
from train.registry import ModelSpec


class RuntimeUnavailable(BenchError):
    """This runtime cannot run where asked (missing provider, missing artifact): skip it, never substitute."""


@dataclass(frozen=True)
class RuntimeDetails:
    """What a loaded session really uses, recorded beside every number it produces."""

    runtime: str
    device: str  # e.g. "cpu", "cuda:0"
    threads: int  # intra-op CPU threads in use
    interop_threads: int  # inter-op CPU threads in use
    providers: tuple[str, ...]  # execution providers / backends actually in use, in priority order
    recipe: str  # how the artifact was loaded and called
    artifact: str  # path of the file loaded
    artifact_bytes: int  # its size on disk
    settings: Mapping[str, object] = field(default_factory=dict)  # what the loaded session reports it uses
    # Seconds `load` spent making the executable a deployment must make too (torch.compile's compile);
    # None when it was made ahead, at export (the manifest's export time counts it then).
    prepare_s: float | None = None

    def as_dict(self) -> dict:
        """Plain dict for JSON."""
        return {**asdict(self), "providers": list(self.providers), "settings": dict(self.settings)}


class Session(ABC):
    """A model loaded by one runtime on one device."""

    details: RuntimeDetails

    @abstractmethod
    def bind(self, inputs: Sequence[torch.Tensor]) -> Callable[[], object]:
        """Move `inputs` to the device once; the callable runs one inference and returns when it is done,
        with its output where the runtime left it (device memory: copying it back is not timed)."""

    @abstractmethod
    def fetch(self, output: object) -> torch.Tensor:
        """The logits of a bound call's `output`, copied to the CPU (the parity check of the timed call)."""

    @abstractmethod
    def run(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """One inference on `inputs`, output copied to CPU (for parity checks, not for timing)."""

    def report(self) -> dict:
        """What the session observed while it ran, read after a row's timed rounds (e.g. torch.compile's
        recompile count); recorded in the row's `runtime_report`. Empty by default."""
        return {}


class Runtime(ABC):
    """One way of executing a model (eager PyTorch, TorchScript, ONNX Runtime, ...).

    A subclass states its facts as class attributes (and `unavailable_reason` for what must be installed)
    and registers itself with `@register_runtime`; nothing else in the project branches on its name."""

    name: ClassVar[str]
    export_format: ClassVar[str | None]  # the export/formats entry that produces its artifact (None: weights)
    aliases: ClassVar[tuple[str, ...]] = ()  # other names users reach for (`--runtimes onnx`)
    # In a run that names no runtimes: False for runtimes whose preparation costs minutes per model
    # (AOTInductor, torch.compile), which `--runtimes` must ask for by name.
    default: ClassVar[bool] = True
    # One session per model for every size of a run (the suite caches it): a runtime that compiles at load
    # is timed as deployed, compiled once, and its recompiles across sizes are what `report` counts.
    shares_session: ClassVar[bool] = False
    devices: ClassVar[tuple[str, ...]] = ("cpu", "cuda")  # device types it can run on
    # How peak memory is read on CUDA (measure.memory.probe_for): "allocator" sees what torch allocates;
    # a runtime with its own allocator (ONNX Runtime's arena) needs "nvml", which sees the whole device.
    cuda_memory: ClassVar[str] = "allocator"
    # Settings a user may change (`bench run --runtime-option <runtime>.<key>=<value>`), with their defaults;
    # their types are the defaults' types.
    options: ClassVar[dict[str, object]] = {}

    def resolve_options(self, given: Mapping[str, object]) -> dict[str, object]:
        """The defaults updated by `given` (strings are parsed to each default's type); an unknown key or a
        value of the wrong kind is a BenchError naming the valid ones."""
        values = dict(self.options)
        for key, value in given.items():
            if key not in self.options:
                known = ", ".join(f"{self.name}.{k}" for k in self.options) or "none"
                raise BenchError(f"unknown option {self.name}.{key}; {self.name} takes: {known}")
            values[key] = coerce_option(value, self.options[key], f"{self.name}.{key}")
        return values

    @property
    def quantized(self) -> bool:
        """Whether its artifact is a lossy (int8) variant, judged by accuracy rather than fp32 parity."""
        return self.export_format is not None and get_format(self.export_format).quantized

    @property
    def artifact(self) -> str:
        """File name inside a model's export folder: the format's artifact, or weights.pt."""
        return WEIGHTS_FILE if self.export_format is None else get_format(self.export_format).artifact

    @abstractmethod
    def load(self, spec: ModelSpec, model_dir: Path, device: torch.device, threads: int, *,
             trust: bool = False, precision: PrecisionPolicy = FP32,
             options: Mapping[str, object] | None = None) -> Session:
        """Load `model_dir/artifact` onto `device` with `threads` CPU threads; RuntimeUnavailable if not.

        `trust`: load an artifact that is code (TorchScript) even when no manifest of ours vouches for it.
        `precision`: the run's policy; torch's process-wide flags are set by the caller (apply_to_torch),
        runtimes with their own settings (ONNX Runtime's provider options) apply it here.
        `options`: this runtime's `options`, resolved (resolve_options); None means the defaults."""

    def unavailable_reason(self, device: str) -> str:
        """Why this runtime cannot run on `device` with what is installed here ("" when it can)."""
        kind = device.split(":")[0]
        if kind not in self.devices:
            return f"{self.name} does not run on {kind} (it runs on: {', '.join(self.devices)})"
        return ""

    def raw_call(self, artifact: Path, inputs: Sequence[torch.Tensor],
                 threads: int) -> tuple[Callable[[], object], str] | None:
        """A call of `artifact` on `inputs` built with the runtime's own library alone (none of this
        project), and its description, for an independent timing check; None: the bound call is that."""
        return None

    def preload(self) -> None:  # noqa: B027 - a hook: most runtimes need nothing beyond torch
        """Import what `load` needs, so a memory baseline taken afterwards excludes the import."""

    def artifact_path(self, model_dir: Path, device: torch.device, *, trust: bool = False) -> Path:
        """The artifact file to load on `device`; RuntimeUnavailable naming the fix when it is missing or
        the device is not one this runtime runs on; BenchError for code no manifest vouches for."""
        reason = Runtime.unavailable_reason(self, device.type)  # the device kind; load checks the rest
        if reason:
            raise RuntimeUnavailable(reason)
        path = Path(model_dir) / self.artifact
        if not path.is_file():
            raise RuntimeUnavailable(f"{self.name}: no {self.artifact} in {model_dir}; run `bench export`")
        if self.export_format is not None and not trust:
            fmt = get_format(self.export_format)
            if fmt.is_code:
                return fmt.vouched_path(model_dir)  # loading it would run code: only files we wrote
        return path


def coerce_option(value: object, default: object, name: str) -> object:
    """`value` as the type of `default`: bools from true/false/on/off/1/0, ints, floats, strings."""
    if isinstance(default, bool):
        text = str(value).lower()
        if isinstance(value, bool) or text in ("true", "false", "on", "off", "1", "0"):
            return value if isinstance(value, bool) else text in ("true", "on", "1")
        raise BenchError(f"{name} takes true or false, got {value!r}")
    try:
        return type(default)(value)
    except (TypeError, ValueError):
        raise BenchError(f"{name} takes a {type(default).__name__}, got {value!r}") from None


def set_torch_threads(threads: int) -> tuple[int, int]:
    """Set torch's intra-op threads (process-wide) and return the (intra, inter) counts now in use."""
    if threads < 1:
        raise BenchError(f"--threads must be a positive integer, got {threads}")
    torch.set_num_threads(threads)
    # Inter-op threads can only be set before torch's first parallel work, so record rather than set them.
    return torch.get_num_threads(), torch.get_num_interop_threads()
