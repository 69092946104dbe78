"""ONNX Runtime: model.onnx with every graph optimisation, on the CPU or CUDA execution provider."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from bench.errors import BenchError
from bench.measure.clock import synchronized
from bench.measure.precision import FP32, PrecisionPolicy
from bench.runtimes.base import Runtime, RuntimeDetails, RuntimeUnavailable, Session, coerce_option
from bench.runtimes.registry import register_runtime
from train.registry import ModelSpec

if TYPE_CHECKING:
    import onnxruntime as ort

_PROVIDER = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


@register_runtime
class OnnxRuntime(Runtime):
    """InferenceSession(model.onnx), ORT_ENABLE_ALL; CUDA through IO binding with device-resident values."""

    name = "onnxruntime"
    aliases = ("onnx", "ort")
    export_format = "onnx"
    cuda_memory = "nvml"  # ORT's CUDA arena is invisible to torch's allocator
    # ORT's own defaults: every graph optimisation, and intra-op threads that spin while waiting for work
    # (lower latency for back-to-back calls, CPU burnt between them).
    options = {"graph_optimization": "all", "intra_op_spinning": True, "execution_mode": "sequential",
               "inter_op_threads": 1}

    def resolve_options(self, given: Mapping[str, object]) -> dict[str, object]:
        """The named options, checked; any other key passes through to ONNX Runtime (see `passthrough`):
        a SessionOptions attribute (enable_mem_pattern=false), a session config entry (its dotted key,
        session.set_denormal_as_zero=1) or a provider option (provider.cudnn_conv_algo_search=HEURISTIC)."""
        named = {k: v for k, v in given.items() if k in self.options}
        values = super().resolve_options(named)
        if values["graph_optimization"] not in OPTIMIZATION_LEVELS:
            raise BenchError(f"onnxruntime.graph_optimization must be one of "
                             f"{', '.join(OPTIMIZATION_LEVELS)}, got {values['graph_optimization']!r}")
        if values["execution_mode"] not in EXECUTION_MODES:
            raise BenchError(f"onnxruntime.execution_mode must be one of {', '.join(EXECUTION_MODES)}, "
                             f"got {values['execution_mode']!r}")
        # ONNX Runtime silently runs a parallel session sequentially with one inter-op thread.
        if values["execution_mode"] == "parallel" and int(values["inter_op_threads"]) < 2:
            raise BenchError("onnxruntime.execution_mode=parallel needs onnxruntime.inter_op_threads >= 2 "
                             "(with one, ONNX Runtime runs the graph sequentially)")
        if int(values["inter_op_threads"]) < 1:
            raise BenchError(f"onnxruntime.inter_op_threads must be >= 1, got {values['inter_op_threads']}")
        extra = {k: v for k, v in given.items() if k not in self.options}
        return {**values, **passthrough(extra)}

    def unavailable_reason(self, device: str) -> str:
        """Also "" only when the installed onnxruntime offers the device's execution provider (offered is
        not yet loaded: `load` checks the session's providers too)."""
        import onnxruntime as ort

        reason = super().unavailable_reason(device)
        wanted = _PROVIDER.get(device.split(":")[0])
        if not reason and wanted not in ort.get_available_providers():
            reason = (f"onnxruntime {ort.__version__}: {wanted} is not in this build "
                      f"(available: {', '.join(ort.get_available_providers())})")
        return reason

    def raw_call(self, artifact: Path, inputs: Sequence[torch.Tensor],
                 threads: int) -> tuple[Callable[[], object], str]:
        """A CPU session built here with ONNX Runtime's API alone (all optimisations, `threads` threads)."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(artifact), options, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        feeds = {name: np.ascontiguousarray(t.numpy()) for name, t in zip(names, inputs, strict=True)}
        return (lambda: session.run(None, feeds)), "a raw onnxruntime.InferenceSession.run"

    def preload(self) -> None:
        import onnxruntime  # noqa: F401 - about 18 MiB resident: not the model's memory

    def load(self, spec: ModelSpec, model_dir: Path, device: torch.device, threads: int, *,
             trust: bool = False, precision: PrecisionPolicy = FP32,
             options: Mapping[str, object] | None = None) -> Session:
        import onnxruntime as ort  # on use: this module is imported whenever the registry is

        settings = self.resolve_options(options or {})
        path = self.artifact_path(model_dir, device, trust=trust)
        if threads < 1:
            raise BenchError(f"--threads must be a positive integer, got {threads}")
        wanted = _PROVIDER.get(device.type)
        if wanted is None:
            raise RuntimeUnavailable(f"onnxruntime: no execution provider for device {device}")
        if wanted not in ort.get_available_providers():
            raise RuntimeUnavailable(
                f"onnxruntime {ort.__version__}: {wanted} is not in this build "
                f"(available: {', '.join(ort.get_available_providers())})"
            )
        check_onnx_file(path)
        device_id = device.index or 0
        session_opts = session_options(threads, str(settings["graph_optimization"]),
                                       bool(settings["intra_op_spinning"]), str(settings["execution_mode"]),
                                       int(settings["inter_op_threads"]))
        asked = {k: v for k, v in settings.items() if k not in self.options}
        provider_options = apply_passthrough(session_opts, asked)
        cuda_options = {"device_id": str(device_id), **precision.ort_cuda_options(), **provider_options}
        cpu_options = [(wanted, provider_options)] if provider_options else [wanted]
        providers: list = [(wanted, cuda_options)] if device.type == "cuda" else cpu_options
        if device.type == "cuda" and hasattr(ort, "preload_dlls"):
            ort.preload_dlls()  # CUDA/cuDNN from the nvidia-* wheels torch brought, before the provider loads
        session = ort.InferenceSession(str(path), session_opts, providers=providers)
        in_use = tuple(session.get_providers())
        # onnxruntime-gpu quietly drops a provider it cannot load and runs on CPU: refuse that number.
        if wanted not in in_use:
            raise RuntimeUnavailable(
                f"onnxruntime {ort.__version__}: {wanted} requested but the session runs on "
                f"{', '.join(in_use)} "
                "(the provider failed to load: missing driver or CUDA/cuDNN libraries, see ORT's log)"
            )
        used = read_back(session, asked)
        if provider_options:  # not readable from the session: recorded as given
            used["provider_options"] = provider_options
        details = RuntimeDetails(
            runtime=self.name,
            device=str(device) if device.type == "cpu" else f"cuda:{device_id}",
            threads=int(used["intra_op_threads"]),
            interop_threads=int(used["inter_op_threads"]),
            providers=in_use,
            settings=used,
            recipe=(
                f"InferenceSession(model.onnx, {used['graph_optimization']}, {used['execution_mode']}, "
                f"spinning {used['intra_op_spinning']}); "
                + (f"CUDA options {cuda_options}; IO binding, inputs and outputs on cuda, "
                   "synchronize_outputs()" if device.type == "cuda" else "session.run(numpy feeds)")
            ),
            artifact=str(path),
            artifact_bytes=path.stat().st_size,
        )
        if device.type == "cuda":
            return OrtCudaSession(session, device_id, details)
        return OrtCpuSession(session, details)


@register_runtime
class OnnxRuntimeInt8(OnnxRuntime):
    """OnnxRuntime on model.int8.onnx (onnx-int8): the same session and settings, int8 kernels, CPU only."""

    name = "onnxruntime-int8"
    aliases = ("ort-int8", "int8")
    export_format = "onnx-int8"
    default = False  # a variant to weigh against its accuracy: `--runtimes onnxruntime-int8` asks for it
    devices = ("cpu",)  # ONNX Runtime's int8 kernels measured here are its CPU ones


def check_onnx_file(path: Path) -> None:
    """`onnx.checker.check_model` before ONNX Runtime parses the file; BenchError when it is no model."""
    import onnx

    try:
        onnx.checker.check_model(str(path))
    except Exception as exc:  # noqa: BLE001 - ValidationError, DecodeError, OSError alike: not a usable model
        first = " ".join(str(exc).split())[:200]
        raise BenchError(f"{path} is not a valid ONNX model ({type(exc).__name__}: {first}); "
                         "re-run `bench export`") from None


OPTIMIZATION_LEVELS = ("disable", "basic", "extended", "all")
EXECUTION_MODES = ("sequential", "parallel")
PROVIDER_PREFIX = "provider."
# Set by the named options or by the run itself: passing them through would bypass their checks.
_RESERVED = ("graph_optimization_level", "execution_mode", "intra_op_num_threads", "inter_op_num_threads",
             "session.intra_op.allow_spinning", "log_severity_level")


def passthrough(given: Mapping[str, object]) -> dict[str, object]:
    """The options beyond the named ones, checked against what ONNX Runtime takes: a SessionOptions
    attribute (its value parsed to the attribute's type), a dotted session config entry (a string, as ORT
    stores it), or `provider.<key>` (a string for the execution provider); BenchError naming a bad key."""
    import onnxruntime as ort

    defaults = ort.SessionOptions()
    out: dict[str, object] = {}
    for key, value in given.items():
        if key in _RESERVED:
            raise BenchError(f"onnxruntime.{key} is set by bench (--threads, onnxruntime.graph_optimization, "
                             "onnxruntime.intra_op_spinning, onnxruntime.execution_mode, "
                             "onnxruntime.inter_op_threads): use those")
        if "." in key:  # provider.<key> or a session config entry: strings, as ORT takes them
            out[key] = str(value)
        elif not key.startswith("_") and hasattr(defaults, key) and not callable(getattr(defaults, key)):
            out[key] = coerce_option(value, getattr(defaults, key), f"onnxruntime.{key}")
        else:
            raise BenchError(f"unknown option onnxruntime.{key}; onnxruntime takes: "
                             "onnxruntime.graph_optimization, onnxruntime.intra_op_spinning, "
                             "onnxruntime.execution_mode, onnxruntime.inter_op_threads, a SessionOptions "
                             "attribute, a dotted session config entry or provider.<key>")
    return out


def apply_passthrough(options: ort.SessionOptions, asked: Mapping[str, object]) -> dict[str, str]:
    """Set the pass-through options on `options`; returns the provider options among them (prefix off)."""
    provider = {}
    for key, value in asked.items():
        if key.startswith(PROVIDER_PREFIX):
            provider[key[len(PROVIDER_PREFIX):]] = str(value)
        elif "." in key:
            options.add_session_config_entry(key, str(value))
        else:
            setattr(options, key, value)
    return provider


def session_options(threads: int, optimization: str = "all", spinning: bool = True,
                    execution: str = "sequential", inter_op_threads: int = 1) -> ort.SessionOptions:
    """`threads` intra-op threads and `inter_op_threads` inter-op threads (1: torch's budget), graph
    optimisation `optimization` (one of OPTIMIZATION_LEVELS), intra-op spinning on or off, execution mode
    `execution` (EXECUTION_MODES: parallel runs independent branches at once on the inter-op threads)."""
    import onnxruntime as ort

    levels = {"disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
              "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
              "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
    if optimization not in levels:
        raise BenchError(f"onnxruntime.graph_optimization must be one of {', '.join(OPTIMIZATION_LEVELS)}, "
                         f"got {optimization!r}")
    modes = {"sequential": ort.ExecutionMode.ORT_SEQUENTIAL, "parallel": ort.ExecutionMode.ORT_PARALLEL}
    if execution not in modes:
        raise BenchError(f"onnxruntime.execution_mode must be one of {', '.join(EXECUTION_MODES)}, "
                         f"got {execution!r}")
    options = ort.SessionOptions()
    options.graph_optimization_level = levels[optimization]
    options.execution_mode = modes[execution]
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = inter_op_threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    options.log_severity_level = 3  # errors only: a provider fallback is reported by our own check
    return options


def read_back(session: ort.InferenceSession, asked: Mapping[str, object] | None = None) -> dict[str, object]:
    """What the session says it uses (not what was asked): threads, execution mode, optimisation level,
    spinning, and each pass-through option of `asked` read back from the session (provider options are
    not readable there: the caller records them as given)."""
    opts = session.get_session_options()
    spinning = opts.get_session_config_entry("session.intra_op.allow_spinning")
    used: dict[str, object] = {
        "intra_op_threads": opts.intra_op_num_threads, "inter_op_threads": opts.inter_op_num_threads,
        "execution_mode": str(opts.execution_mode).rsplit(".", 1)[-1],
        "graph_optimization": str(opts.graph_optimization_level).rsplit(".", 1)[-1],
        "intra_op_spinning": spinning != "0"}
    for key in asked or {}:
        if key.startswith(PROVIDER_PREFIX):
            continue
        value = opts.get_session_config_entry(key) if "." in key else getattr(opts, key)
        used[key] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return used


def _feeds(session: ort.InferenceSession, inputs: Sequence[torch.Tensor]) -> dict[str, np.ndarray]:
    """Graph input name -> contiguous numpy array, in the model's call order."""
    names = [i.name for i in session.get_inputs()]
    if len(names) != len(inputs):
        raise BenchError(f"model.onnx takes {len(names)} inputs ({', '.join(names)}), got {len(inputs)}")
    pairs = zip(names, inputs, strict=True)
    return {name: np.ascontiguousarray(t.detach().cpu().numpy()) for name, t in pairs}


class OrtCpuSession(Session):
    """CPU: numpy feeds built once; each call is one `session.run` of the first output."""

    def __init__(self, session: ort.InferenceSession, details: RuntimeDetails):
        self._session = session
        self._output = [session.get_outputs()[0].name]
        self.details = details

    def bind(self, inputs: Sequence[torch.Tensor]) -> Callable[[], object]:
        feeds = _feeds(self._session, inputs)
        session, output = self._session, self._output

        def infer() -> list:
            return session.run(output, feeds)

        return infer

    def fetch(self, output: object) -> torch.Tensor:
        return torch.from_numpy(output[0])

    def run(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.from_numpy(self._session.run(self._output, _feeds(self._session, inputs))[0])


class OrtCudaSession(Session):
    """CUDA: inputs copied to the GPU once as OrtValues, output bound on the GPU, outputs synchronised."""

    def __init__(self, session: ort.InferenceSession, device_id: int, details: RuntimeDetails):
        self._session = session
        self._device_id = device_id
        self.details = details

    def _binding(self, inputs: Sequence[torch.Tensor]) -> ort.IOBinding:
        """An IO binding with every input resident on the GPU and the first output allocated there."""
        import onnxruntime as ort

        binding = self._session.io_binding()
        for name, array in _feeds(self._session, inputs).items():
            value = ort.OrtValue.ortvalue_from_numpy(array, "cuda", self._device_id)
            binding.bind_ortvalue_input(name, value)
        binding.bind_output(self._session.get_outputs()[0].name, "cuda", self._device_id)
        binding.synchronize_inputs()
        return binding

    def bind(self, inputs: Sequence[torch.Tensor]) -> Callable[[], object]:
        binding = self._binding(inputs)
        session = self._session

        def infer() -> ort.IOBinding:
            session.run_with_iobinding(binding)
            return binding  # its output stays on the GPU; fetch copies it back, untimed

        return synchronized(infer, binding.synchronize_outputs)

    def fetch(self, output: object) -> torch.Tensor:
        return torch.from_numpy(output.copy_outputs_to_cpu()[0])

    def run(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        binding = self._binding(inputs)
        self._session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        return torch.from_numpy(binding.copy_outputs_to_cpu()[0])
