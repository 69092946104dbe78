"""torch.compile (inductor): the eager module compiled at load on the export example, its dynamic axes
marked dynamic, so one compiled session serves every size of a run and each recompile it makes is counted."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

import torch

from bench.errors import BenchError
from bench.measure.devices import synchronizer
from bench.measure.precision import FP32, PrecisionPolicy
from bench.runtimes.base import Runtime, RuntimeDetails, RuntimeUnavailable, Session, set_torch_threads
from bench.runtimes.eager import EAGER_RECIPE, load_eager_module
from bench.runtimes.registry import register_runtime
from bench.runtimes.torch_session import TorchSession, torch_session
from export.cases import export_example
from export.util import first_line
from train.registry import ModelSpec

# torch.compile's modes (torch._inductor.list_mode_options); "lite" is left out: it is not a deployment mode.
MODES = ("default", "max-autotune", "max-autotune-no-cudagraphs", "reduce-overhead")
BACKEND = "inductor"
# Dynamo settings load() sets for the whole process (dynamo reads them while it traces, from its global
# config, so they cannot be scoped to one compiled module):
DYNAMO_SETTINGS = {
    # PyG's GCN normalisation calls nonzero (a data-dependent size): without this each call breaks the graph
    # there (6 breaks in cora-gcn) and the resumed pieces recompile when the graph's size changes.
    "capture_dynamic_output_shape_ops": True,
    # Past recompile_limit dynamo would run the frame eagerly from then on, silently: raise instead, so no
    # eager call is ever timed under the compile name.
    "fail_on_recompile_limit_hit": True,
}


@register_runtime
class CompileRuntime(Runtime):
    """`torch.compile(eager module, backend="inductor", mode=...)` compiled at load; run in inference_mode."""

    name = "compile"
    export_format = None  # compiles weights.pt's eager module in this process: no artifact of its own
    default = False  # cold compiles took 1-13 s per model on 2 CPU cores: `--runtimes compile` asks for it
    shares_session = True  # compiled once, as deployed: later sizes show their recompiles
    options = {"mode": "default"}

    def resolve_options(self, given: Mapping[str, object]) -> dict[str, object]:
        """The base class's resolution, and the mode one torch.compile knows (BenchError listing them)."""
        values = super().resolve_options(given)
        if values["mode"] not in MODES:
            raise BenchError(f"compile.mode {values['mode']!r} is not a torch.compile mode; choose one of: "
                             f"{', '.join(MODES)}")
        return values

    def unavailable_reason(self, device: str) -> str:
        """The base class's reason; on CUDA inductor also needs triton for the kernels it generates."""
        reason = super().unavailable_reason(device)
        if reason:
            return reason
        if not device.startswith("cuda"):
            from export.formats.aoti import compiler_missing  # inductor's CPU kernels are C++ too

            return compiler_missing().replace("aoti needs a C++ compiler to export", "compile needs a C++ "
                                                                                     "compiler (inductor)")
        from torch.utils._triton import has_triton

        if has_triton():
            return ""
        return "compile on cuda needs triton (inductor's GPU kernels): pip install triton"

    def preload(self) -> None:
        import torch._dynamo  # noqa: F401 - dynamo and inductor load with the first compile
        import torch._inductor.compile_fx  # noqa: F401

    def load(self, spec: ModelSpec, model_dir: Path, device: torch.device, threads: int, *,
             trust: bool = False, precision: PrecisionPolicy = FP32,
             options: Mapping[str, object] | None = None) -> Session:
        import torch._dynamo  # here, not at the top: importing bench.runtimes must stay quick

        mode = str(self.resolve_options(options or {})["mode"])
        path = self.artifact_path(model_dir, device, trust=trust)
        reason = self.unavailable_reason(str(device))
        if reason:
            raise RuntimeUnavailable(reason)
        _configure_dynamo()
        # Before compiling: inductor writes the thread count into its CPU kernels (OpenMP pragmas).
        set_torch_threads(threads)
        model = load_eager_module(spec, model_dir, path).to(device)
        inductor_options = _inductor_options(mode, threads)
        compiled = torch.compile(model, backend=BACKEND, options=inductor_options)
        example, label = export_example(spec)
        example = tuple(t.to(device) for t in example)
        dynamic = _mark_dynamic(spec, example)
        before = _Counts.now()
        start = time.perf_counter()
        try:
            with torch.inference_mode():
                compiled(*example)
            synchronizer(device)()
        except torch._dynamo.exc.TorchDynamoException as exc:
            # A model inductor cannot compile is skipped with the reason, never run eagerly instead.
            raise RuntimeUnavailable(f"compile: torch.compile cannot compile {spec.name} on {label}: "
                                     f"{first_line(exc)}") from None
        prepare_s = time.perf_counter() - start
        compiled_at_load = _Counts.now() - before
        call = f"torch.compile(backend={BACKEND!r}, mode={mode!r}, cpp.threads={threads})"
        recipe = (f"{EAGER_RECIPE}; {call}; compiled at load on {label} with {_dynamic_label(dynamic)} "
                  "dynamic; torch.inference_mode()")
        details = torch_session(compiled, runtime=self.name, backend=f"torch.compile/{BACKEND}",
                                device=device, recipe=recipe, path=path, threads=threads).details
        settings = {
            "mode": mode, "backend": BACKEND, "inductor_options": inductor_options, "compiled_on": label,
            "dynamic_axes": dynamic, "torch": torch.__version__,
            "compiled_graphs": compiled_at_load.graphs, "graph_breaks": compiled_at_load.graph_breaks,
            **compiled_at_load.cache_settings(), "dynamo": _dynamo_settings(),
        }
        details = replace(details, settings=settings, prepare_s=prepare_s)
        return CompileSession(compiled, device, details, since=_Counts.now())


class CompileSession(TorchSession):
    """A TorchSession over the compiled module whose report() counts the compiling done after load."""

    def __init__(self, module: Callable[..., torch.Tensor], device: torch.device, details: RuntimeDetails,
                 since: _Counts):
        super().__init__(module, device, details)
        self._loaded = self._reported = since

    def report(self) -> dict:
        """Dynamo's work since load: `recompiles` (frames compiled: a size that failed the guards, or code
        first reached after load), `compiled_graphs`, `graph_breaks`, `failed_frames` (frames dynamo tried
        and did not compile: with fail_on_recompile_limit_hit the call raised; none may run eagerly), and
        `recompiles_since_last_report` (the sizes of a run share one session: what this row added).

        Dynamo's counters are per process: they are this session's as long as no other compiled module
        runs between its load and this report (the suite runs one model at a time)."""
        now = _Counts.now()
        done, new = now - self._loaded, now - self._reported
        self._reported = now
        return {"recompiles": done.frames_ok, "compiled_graphs": done.graphs,
                "graph_breaks": done.graph_breaks, "failed_frames": done.frames_total - done.frames_ok,
                "recompiles_since_last_report": new.frames_ok}


@dataclass(frozen=True)
class _Counts:
    """A reading of dynamo's and inductor's process-wide counters (torch._dynamo.utils.counters)."""

    frames_total: int  # frames dynamo tried to compile
    frames_ok: int  # ... and compiled
    graphs: int  # FX graphs handed to inductor
    graph_breaks: int
    fx_hits: int  # inductor's FX-graph cache
    fx_misses: int
    aot_hits: int  # AOTAutograd's cache, in front of it
    aot_misses: int

    @staticmethod
    def now() -> _Counts:
        """The counters now (a missing one is 0)."""
        from torch._dynamo.utils import counters

        inductor, aot = counters["inductor"], counters["aot_autograd"]
        frames = counters["frames"]
        return _Counts(frames["total"], frames["ok"], counters["stats"]["unique_graphs"],
                       sum(counters["graph_break"].values()), inductor["fxgraph_cache_hit"],
                       inductor["fxgraph_cache_miss"], aot["autograd_cache_hit"], aot["autograd_cache_miss"])

    def __sub__(self, other: _Counts) -> _Counts:
        return _Counts(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))

    def cache_settings(self) -> dict:
        """Which caches the compile found full, since a warm one makes prepare_s a load, not a compile:
        "cold" (inductor's on-disk caches all missed), "warm" (all hit), "mixed", "process" (nothing
        compiled: dynamo's cache already held this model's graph, compiled by an earlier load in this
        process with the same options), "off" (compiled, no on-disk cache consulted)."""
        from torch._inductor.runtime.cache_dir_utils import cache_dir

        hits, misses = self.fx_hits + self.aot_hits, self.fx_misses + self.aot_misses
        if not self.frames_ok:
            state = "process"
        else:
            state = "off" if not hits + misses else "cold" if not hits else "warm" if not misses else "mixed"
        return {"cache": state, "fx_graph_cache": {"hits": self.fx_hits, "misses": self.fx_misses},
                "aot_autograd_cache": {"hits": self.aot_hits, "misses": self.aot_misses},
                "cache_dir": cache_dir()}


def _configure_dynamo() -> None:
    """DYNAMO_SETTINGS set; TORCHDYNAMO_SUPPRESS_ERRORS refused (it turns a failed compile into eager)."""
    config = torch._dynamo.config
    if config.suppress_errors:
        raise BenchError("compile: torch._dynamo.config.suppress_errors is on (TORCHDYNAMO_SUPPRESS_ERRORS), "
                         "so a failed compile would run eagerly under compile's name; unset it")
    for key, value in DYNAMO_SETTINGS.items():
        setattr(config, key, value)


def _dynamo_settings() -> dict:
    """The dynamo settings that decide what compiles and when it recompiles, as they are now."""
    config = torch._dynamo.config
    now = {key: getattr(config, key) for key in DYNAMO_SETTINGS}
    return {**now, "recompile_limit": config.recompile_limit,
            "automatic_dynamic_shapes": config.automatic_dynamic_shapes}


def _inductor_options(mode: str, threads: int) -> dict[str, object]:
    """The mode's inductor options (what torch.compile(mode=...) applies) with the thread count explicit:
    inductor's FX-graph cache key leaves out the implicit count (pytorch#160812), so a graph cached by a
    1-thread run would be loaded, serial, by a 2-thread one; an explicit cpp.threads is part of the key."""
    from torch._inductor import list_mode_options

    return {**list_mode_options(mode), "cpp.threads": threads}


def _mark_dynamic(spec: ModelSpec, example: tuple[torch.Tensor, ...]) -> dict[str, dict[str, str]]:
    """Every axis the spec names (batch, num_nodes, num_edges) marked dynamic on the example, so later sizes
    reuse the compiled graph; returns {input: {axis: name}}."""
    marked: dict[str, dict[str, str]] = {}
    for tensor, tensor_spec in zip(example, spec.inputs, strict=True):
        for axis, dim in tensor_spec.dynamic_dims().items():
            torch._dynamo.mark_dynamic(tensor, axis)
            marked.setdefault(tensor_spec.name, {})[str(axis)] = dim
    return marked


def _dynamic_label(dynamic: Mapping[str, Mapping[str, str]]) -> str:
    """'batch' or 'num_nodes, num_edges'."""
    return ", ".join(dict.fromkeys(name for axes in dynamic.values() for name in axes.values())) or "no axis"
