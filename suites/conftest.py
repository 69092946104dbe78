"""The suite's RunConfig (one `--bench-config` file, or `--bench-set key=value`), cases from it, and the side
channel `bench run` reads (progress, skips)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest
import torch

from bench.errors import BenchError
from bench.measure.allocator import apply_allocator
from bench.measure.devices import resolve_device
from bench.measure.environment import collect_environment
from bench.measure.flops import count_flops
from bench.measure.hardware import cpu_peak, cuda_peak
from bench.measure.roofline import MatmulPeak, best_gemm
from bench.records.schema import REFERENCE_RUNTIME, SCHEMA_VERSION, paired_info, rescale_to_peak
from bench.run.artifacts import ModelArtifacts, ensure_exported
from bench.run.config import PROGRESS_ENV, RunConfig
from bench.run.graph_inputs import benchmark_inputs
from bench.run.selection import Case
from bench.runtimes import Runtime, RuntimeUnavailable, Session, get_runtime
from train.fileio import write_text
from train.processes import die_with_parent
from train.registry import ModelSpec

TRANSFER_SCOPE = "host→device→host: CPU inputs copied in and output copied back on every call"
RESIDENT_SCOPE = "device-resident inputs bound once; output left on the device; synchronised per call"


@dataclass(frozen=True)
class TimedCall:
    """The callable a row times, how to bring its output to the CPU for parity, and what it covers."""

    call: Callable[[], object]
    fetch: Callable[[object], torch.Tensor]
    scope: str


@dataclass
class SuiteState:
    """Per-session caches: exports, inputs and eager reference outputs, each made once."""

    config: RunConfig
    device: torch.device  # the config's device, resolved (CUDA checked) once
    allocator: str = ""  # the host malloc in effect, in words (bench.measure.allocator), set at start-up
    _artifacts: dict[str, ModelArtifacts] = field(default_factory=dict)
    _inputs: dict[tuple[str, int], tuple[tuple[torch.Tensor, ...], str]] = field(default_factory=dict)
    _references: dict[tuple[str, int], torch.Tensor] = field(default_factory=dict)
    _flops: dict[tuple[str, int], int] = field(default_factory=dict)
    _accuracy: dict[tuple[str, str], dict] = field(default_factory=dict)
    # Sessions of runtimes that share one across sizes (Runtime.shares_session), with their load seconds,
    # or the RuntimeUnavailable their load raised (a compile that failed once is not retried per size).
    _shared: dict[tuple[str, str], tuple[Session, float] | RuntimeUnavailable] = field(default_factory=dict)

    def artifacts(self, spec: ModelSpec) -> ModelArtifacts:
        """The model's exports, exported now if missing or stale."""
        if spec.name in self.config.failed_exports:
            # The runner could not export it (e.g. a corrupt checkpoint): each of its cases fails with the
            # reason while the other models run; a stale export left in the folder is never used instead.
            pytest.fail(f"not exported: {self.config.failed_exports[spec.name]}")
        if spec.name not in self._artifacts:
            config = self.config
            self._artifacts[spec.name] = ensure_exported(
                spec, config.exports_dir, config.checkpoints_dir, config.seed, reuse=config.reuse_exports,
                formats=config.export_formats or None)
        return self._artifacts[spec.name]

    def inputs(self, spec: ModelSpec, size: int) -> tuple[torch.Tensor, ...]:
        """Seeded CPU inputs of `size` (batch, or nodes), the same for every runtime."""
        key = (spec.name, size)
        if key not in self._inputs:
            self._inputs[key] = benchmark_inputs(spec, size, self.config.seed, self.config.data_dir or None)
        return self._inputs[key][0]

    def inputs_label(self, spec: ModelSpec, size: int) -> str:
        """What `inputs` are for a graph model (the real Cora, or a random graph and why); "" otherwise."""
        self.inputs(spec, size)
        return self._inputs[(spec.name, size)][1]

    def reference(self, spec: ModelSpec, size: int) -> torch.Tensor:
        """Eager output on the run's device for those inputs: what every runtime's parity is against."""
        key = (spec.name, size)
        if key not in self._references:
            session = get_runtime(REFERENCE_RUNTIME).load(spec, self.artifacts(spec).model_dir, self.device,
                                                self.config.threads, precision=self.config.policy)
            self._references[key] = session.run(self.inputs(spec, size))
        return self._references[key]

    def load(self, spec: ModelSpec, runtime: Runtime) -> Session:
        """`runtime`'s session of `spec` on the run's device (see `load_timed`)."""
        return self.load_timed(spec, runtime)[0]

    def load_timed(self, spec: ModelSpec, runtime: Runtime) -> tuple[Session, float, bool]:
        """`runtime`'s session of `spec` on the run's device, the seconds its load took, and whether it was
        loaded before (a runtime that shares one session across sizes); RuntimeUnavailable (the test
        skips, saying why) when its export failed or it cannot run here. Never a substitute."""
        key = (spec.name, runtime.name)
        if key in self._shared:
            cached = self._shared[key]
            if isinstance(cached, RuntimeUnavailable):
                raise cached
            return cached[0], cached[1], True
        artifacts = self.artifacts(spec)
        reason = artifacts.unavailable_reason(runtime.export_format)
        if reason:
            raise RuntimeUnavailable(f"{runtime.name}: {reason}")
        config = self.config
        started = time.perf_counter()
        try:
            session = runtime.load(spec, artifacts.model_dir, self.device, config.threads, trust=config.trust,
                                   precision=config.policy, options=config.options_for(runtime.name))
        except RuntimeUnavailable as exc:
            if runtime.shares_session:
                self._shared[key] = exc
            raise
        load_s = time.perf_counter() - started
        if runtime.shares_session:
            self._shared[key] = (session, load_s)
        return session, load_s, False

    def timed_call(self, session: Session, inputs: tuple[torch.Tensor, ...]) -> TimedCall:
        """What is timed for `session`: the bound call (device-resident inputs) or, with include_transfer,
        a host→device→host round trip; how to fetch its output; the scope, in words."""
        if self.config.include_transfer:
            # CPU inputs in, output copied back to the CPU (a synchronising copy), on every call.
            return TimedCall(lambda: session.run(inputs), lambda output: output, TRANSFER_SCOPE)
        return TimedCall(session.bind(inputs), session.fetch, RESIDENT_SCOPE)

    def flops(self, spec: ModelSpec, size: int) -> int:
        """FLOPs of one forward pass at `size` (matmul/conv only) of the architecture that was exported
        (a checkpoint trained with other channels has other FLOPs), counted once per case."""
        key = (spec.name, size)
        if key not in self._flops:
            self._flops[key] = count_flops(spec, size, self.artifacts(spec).model_kwargs)
        return self._flops[key]


    def accuracy(self, spec: ModelSpec, runtime: Runtime) -> dict:
        """`runtime`'s test accuracy beside eager's on the real test split (or why there is none), measured
        once per model and runtime on the CPU: what a quantized row must show besides its speed."""
        key = (spec.name, runtime.name)
        if key not in self._accuracy:
            from bench.run.accuracy import row_accuracy
            from train.data.paths import default_data_dir

            data_dir = Path(self.config.data_dir) if self.config.data_dir else default_data_dir()
            self._accuracy[key] = row_accuracy(spec, runtime.name, data_dir, self.config.results_dir,
                                               self.config.threads)
        return self._accuracy[key]


_STATE = pytest.StashKey[SuiteState]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("bench", "bench latency suites")
    group.addoption("--bench-config", default=None,
                    help="a run config JSON (bench.run.config.RunConfig; `bench run` writes one)")
    group.addoption("--bench-set", action="append", default=[], metavar="KEY=VALUE",
                    help="a RunConfig field, e.g. --bench-set models=mnist-mlp --bench-set device=cuda "
                         "(repeatable; instead of --bench-config)")


def load_run_config(config: pytest.Config) -> RunConfig:
    """The run's RunConfig: from --bench-config, else from --bench-set (validated by RunConfig either way)."""
    path, settings = config.getoption("bench_config"), config.getoption("bench_set")
    if path and settings:
        raise BenchError("give either --bench-config or --bench-set, not both")
    return RunConfig.read(Path(path)) if path else RunConfig.from_settings(settings)


def pytest_configure(config: pytest.Config) -> None:
    die_with_parent()  # started by `bench run`: never run on alone if it is killed (train.processes)
    try:
        run_config = load_run_config(config)
        config.stash[_STATE] = SuiteState(run_config, resolve_device(run_config.device))
    except BenchError as exc:
        raise pytest.UsageError(str(exc)) from None
    # One inter-op thread for torch, as ONNX Runtime gets (inter_op_num_threads=1). torch accepts this
    # only before its first parallel work, so here, before any model runs; runtimes record the value.
    torch.set_num_interop_threads(1)
    # TF32 and cuDNN autotuning as the run asks, for eager (the parity reference) and every torch runtime.
    run_config.policy.apply_to_torch()
    progress = os.environ.get(PROGRESS_ENV)
    recorder = OutcomeRecorder(run_config, Path(progress) if progress else None)
    # Before any model allocates: with glibc's defaults every call faults its large blocks in again.
    try:
        recorder.allocator = config.stash[_STATE].allocator = apply_allocator(run_config.allocator)
    except BenchError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.pluginmanager.register(recorder, "bench-outcome-recorder")
    # Each runtime's imports (torch._inductor: seconds), once, before any row: otherwise the first model a
    # runtime loads would carry them in its load time and the next ones not. Recorded in bench.preload_s.
    for name in run_config.runtimes:
        started = time.perf_counter()
        get_runtime(name).preload()
        recorder.preload_s[name] = round(time.perf_counter() - started, 4)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the paired test when the run has no paired cases (--no-paired, or one runtime): pytest would
    otherwise collect it once, unparametrised, and report a skipped `test_paired[NOTSET]`."""
    if config.stash[_STATE].config.paired_cases():
        return
    empty = [item for item in items if getattr(item, "originalname", "") == "test_paired"]
    if empty:
        items[:] = [item for item in items if item not in empty]
        config.hook.pytest_deselected(items=empty)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    config = metafunc.config.stash[_STATE].config
    if "case" in metafunc.fixturenames:
        cases = config.cases()
        metafunc.parametrize("case", cases, ids=[c.id for c in cases])
    if "paired_case" in metafunc.fixturenames:
        paired = config.paired_cases()
        metafunc.parametrize("paired_case", paired, ids=[c.id for c in paired])


@pytest.fixture(scope="session")
def record_paired(request: pytest.FixtureRequest) -> Callable[[dict], None]:
    """Keep a paired result for the JSON (each row's extra_info.paired, and bench.paired)."""
    recorder = request.config.pluginmanager.get_plugin("bench-outcome-recorder")
    return recorder.paired.append


@pytest.fixture(scope="session")
def suite(request: pytest.FixtureRequest) -> SuiteState:
    """The session's caches and validated options."""
    return request.config.stash[_STATE]


@pytest.fixture(scope="session")
def hardware_peak(request: pytest.FixtureRequest) -> float | None:
    """The theoretical fp32 peak (GFLOP/s) of the run's device and threads; None under TF32 (tensor cores
    are not counted there) or when an input is unknown. Recorded with its inputs in bench.hardware_peak."""
    state = request.config.stash[_STATE]
    device = state.device
    peak = cuda_peak(device.index or 0) if device.type == "cuda" else cpu_peak(state.config.threads)
    recorder = request.config.pluginmanager.get_plugin("bench-outcome-recorder")
    if recorder is not None:
        recorder.hardware_peak = peak.as_dict()
    return None if state.config.policy.tf32 and device.type == "cuda" else peak.gflops


@pytest.fixture(scope="session")
def matmul_peak(request: pytest.FixtureRequest) -> Iterator[MatmulPeak]:
    """The machine's fp32 matmul peak on the run's device with the run's threads, measured before the first
    case and again after the last; the better of the two is recorded in the JSON (machine_info.bench and
    bench.matmul_peak) and every row's % of peak is recomputed against it when the JSON is written, so a
    moment of contention during one measurement cannot inflate every row's share."""
    state = request.config.stash[_STATE]

    # Big enough to reach the BLAS's sustained rate, small enough to cost a few seconds in all.
    sizes = (4096, 8192) if state.device.type == "cuda" else (512, 1024)

    def measure() -> MatmulPeak:
        return max(best_gemm(str(state.device), state.config.threads, sizes), key=lambda peak: peak.gflops)

    first = measure()
    yield first
    last = measure()
    best = max(first, last, key=lambda peak: peak.gflops)
    recorder = request.config.pluginmanager.get_plugin("bench-outcome-recorder")
    if recorder is not None:
        recorder.matmul_peak = asdict(best) | {
            "measured_gflops": [first.gflops, last.gflops],
            "taken": f"best of torch at sizes {', '.join(map(str, sizes))}"
                     + ("" if state.device.type == "cuda" else " and ONNX Runtime's MatMul")
                     + ", before the first case and after the last"}


# --- side channel for `bench run`: progress lines and the outcome of every case ---------------------------


class OutcomeRecorder:
    """Tracks every case's outcome, streams progress lines for `bench run`, and adds outcomes to the JSON."""

    def __init__(self, suite: RunConfig, progress_file: Path | None) -> None:
        self.suite = suite
        self.progress_file = progress_file
        self.cases: dict[str, Case] = {}  # nodeid -> case, in collection order
        self.outcomes: dict[str, tuple[str, str]] = {}  # nodeid -> (status, reason)
        self.lines: list[str] = []
        self.matmul_peak: dict | None = None  # set by the matmul_peak fixture
        self.hardware_peak: dict | None = None  # set by the hardware_peak fixture
        self.paired: list[dict] = []  # one entry per runtime of each paired case (suites/test_paired.py)
        self.preload_s: dict[str, float] = {}  # runtime -> seconds its imports took, before the first row
        self.allocator = ""  # the host malloc in effect, in words (bench.measure.allocator)

    def emit(self, event: dict) -> None:
        """Add a JSON line to the progress file (rewritten atomically: a reader never sees half a line)."""
        if self.progress_file is None:
            return
        self.lines.append(json.dumps(event))
        write_text(self.progress_file, "\n".join(self.lines) + "\n")

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            callspec = getattr(item, "callspec", None)
            case = callspec.params.get("case") if callspec else None
            if isinstance(case, Case):
                self.cases[item.nodeid] = case

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.emit({"event": "collected", "total": len(session.items)})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Keep the first non-passing phase of each test (a skip in setup or call, a failure anywhere)."""
        previous = self.outcomes.get(report.nodeid)
        if previous is not None and previous[0] != "passed":
            return
        if report.skipped:
            self.outcomes[report.nodeid] = ("skipped", _skip_reason(report))
        elif report.failed:
            self.outcomes[report.nodeid] = ("failed", _failure_line(report))
        elif report.when == "call":
            self.outcomes[report.nodeid] = ("passed", "")

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        status, reason = self.outcomes.get(nodeid, ("failed", "no outcome recorded"))
        event = {"event": "finished", "nodeid": nodeid, "status": status, "reason": reason}
        if nodeid in self.cases:
            event |= _case_fields(self.cases[nodeid])
        self.emit(event)

    def pytest_benchmark_update_json(self, output_json: dict) -> None:
        """Every case's outcome (skips with their reasons) and the suite's options, beside the benchmarks."""
        outcomes = [
            _case_fields(case) | dict(zip(("status", "reason"), self.outcomes.get(nodeid, ("not run", "")),
                                          strict=True))
            for nodeid, case in self.cases.items()
        ]
        suite = self.suite
        output_json["bench"] = {
            "schema_version": SCHEMA_VERSION,
            "outcomes": outcomes,
            "suite": {"device": suite.device, "threads": suite.threads, "seed": suite.seed,
                      "warmup_calls": suite.warmup, "batch_sizes": list(suite.batch_sizes),
                      "exports": str(suite.exports_dir.resolve()), "memory": suite.memory,
                      "include_transfer": suite.include_transfer,
                      "stability_budget_s": suite.stability_budget_s},
            "config": suite.to_dict(),
            "matmul_peak": self.matmul_peak,
            "hardware_peak": self.hardware_peak,
            "paired": self.paired,
            "preload_s": self.preload_s,
            "allocator": self.allocator,
        }
        paired = {(p["model"], p["runtime"], p["device"], p["batch"]): p for p in self.paired}
        for entry in output_json.get("benchmarks", []):
            info = entry.get("extra_info") or {}
            if self.matmul_peak:
                rescale_to_peak(info, self.matmul_peak["gflops"])
            found = paired.get(tuple(info.get(k) for k in ("model", "runtime", "device", "batch")))
            if found is not None:
                info["paired"] = paired_info(found)

    def pytest_benchmark_update_machine_info(self, machine_info: dict) -> None:
        """The hardware/software block `bench compare` checks before trusting deltas."""
        machine_info["bench"] = {"schema_version": SCHEMA_VERSION,
                                 **collect_environment(threads=self.suite.threads)}
        machine_info["bench"]["matmul_peak"] = self.matmul_peak


def _case_fields(case: Case) -> dict:
    return {"model": case.model, "runtime": case.runtime, "device": case.device, "batch": case.size,
            "unit": case.unit}


def _skip_reason(report: pytest.TestReport) -> str:
    """The text of pytest.skip(reason), without pytest's 'Skipped: ' prefix."""
    longrepr = report.longrepr
    message = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return message.removeprefix("Skipped: ")


def _failure_line(report: pytest.TestReport) -> str:
    """The first line of the exception message, enough for a table cell."""
    crash = getattr(report.longrepr, "reprcrash", None)
    line = crash.message.splitlines()[0] if crash is not None else str(report.longrepr).splitlines()[-1]
    return line.removeprefix("Failed: ")  # pytest.fail's own prefix: the reason says it already
