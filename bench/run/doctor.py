"""`bench doctor`: the GPU check as one prepared command that fits a short device lease.

It runs the project from wherever its source is (the interpreter at hand, PYTHONPATH, no install): the
`cuda`-marked tests, then `bench run` on the device for every model with the runtimes that can run there,
under both precision policies, and once with host transfers timed. Every step has a time limit inside one
overall budget; a step past its limit is interrupted like Ctrl-C and given GRACE_S to save the rows it
finished (the one overrun the budget allows). Logs, JSON and rendered tables land in one folder, each
run's results in a folder of its own. `--dry-run` checks all of it but the GPU.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.errors import BenchError
from bench.measure.devices import resolve_device
from bench.run.config import RunConfig
from bench.run.runner import INTERRUPT_GRACE_S
from train.fileio import ensure_output_dir, write_json

REPO = Path(__file__).resolve().parents[2]  # the source tree this copy of bench runs from
REQUIRED = ("torch", "torchvision", "torch_geometric", "onnx", "onnxscript", "onnxruntime", "numpy", "scipy",
            "pytest", "pytest_benchmark", "typer", "rich", "yaml", "psutil")
OPTIONAL = {"pynvml": "NVML peak memory of ONNX Runtime on CUDA", "matplotlib": "bench report --plots",
            "tensorboard": "TensorBoard logs", "soundfile": "reading ESC-50 WAV files",
            "torchaudio": "ESC-50 log-mel features"}
# After the interrupt, how long a step may take to save what it finished: longer than `bench run` gives its
# own pytest child after a Ctrl-C (runner.INTERRUPT_GRACE_S), so the child is never orphaned.
GRACE_S = INTERRUPT_GRACE_S + 15.0
CUDA_TESTS = "cuda or ort_cuda"
TABLES = "tables.md"  # the rendered tables of every run step, one after another
_PYTEST = [sys.executable, "-m", "pytest", str(REPO / "tests"), "-m", CUDA_TESTS, "-p", "no:cacheprovider"]


@dataclass(frozen=True)
class Step:
    """One command of the check: its name, argv, time limit and the files it leaves (name -> path)."""

    name: str
    command: list[str]
    limit_s: float
    collect: Callable[[Path, float], dict[str, Path]] | None = None  # (out dir, step start) -> files kept
    tables: bool = False  # its stdout is a rendered table: append it to tables.md (stderr goes to the log)


@dataclass
class StepResult:
    """What a step did: passed | failed | timed out | skipped, in how long, and what it left."""

    name: str
    status: str
    seconds: float = 0.0
    returncode: int | None = None
    reason: str = ""
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DoctorOptions:
    """What the check covers and how long it may take."""

    device: str = "cuda"
    out_dir: Path = Path("results/doctor")
    models: tuple[str, ...] = ()  # empty: every registered model
    budget_s: float = 420.0  # the whole check, seconds
    max_time_s: float = 0.5  # bench run's seconds of timed rounds per case
    tests: bool = True  # run the cuda-marked tests first

    def __post_init__(self) -> None:
        if not 0 < self.budget_s < float("inf"):
            raise BenchError(f"--budget must be a positive number of seconds, got {self.budget_s}")
        # Absolute: the steps run in the source tree, not where the user typed the command.
        object.__setattr__(self, "out_dir", Path(self.out_dir).resolve())


def runtimes_for(device: str) -> list[str]:
    """The default runtimes that can run on `device` with what is installed here (unavailable_reason);
    those that compile each model for seconds (aoti, compile) would take the whole budget."""
    from bench.runtimes import default_runtime_names, get_runtime

    return [name for name in default_runtime_names() if not get_runtime(name).unavailable_reason(device)]


def plan(options: DoctorOptions) -> list[Step]:
    """The steps, in order, with their limits (shares of the budget) and the files each leaves."""
    out, results, budget = options.out_dir, options.out_dir / "results", options.budget_s
    models = list(options.models)
    steps = []
    if options.tests:
        junit = out / "cuda_tests.xml"
        command = [*_PYTEST, "-q", "-rs", f"--junitxml={junit}"]
        steps.append(Step("cuda tests", command, 0.25 * budget,
                          lambda _out, _since: {junit.name: junit} if junit.is_file() else {}))

    def run(folder: Path, *args: str, models: list[str]) -> list[str]:
        """A `bench run` of this check into results `folder`: device, runtimes, timing, plus `args`."""
        return [sys.executable, "-m", "bench", "run", "--device", options.device,
                "--runtimes", ",".join(runtimes_for(options.device)), "--results-dir", str(folder),
                "--max-time", str(options.max_time_s), "--stability-budget", str(options.max_time_s),
                "--format", "markdown", *(["--models", ",".join(models)] if models else []), *args]

    # Each setting keeps its own results folder, so `bench report` on one never mixes them; the later
    # ones reuse the first one's exports (see run_doctor).
    steps.append(Step("run fp32", run(results, "--batch-sizes", "1,64", models=models), 0.50 * budget,
                      _newest_json(results, "run_fp32.json"), tables=True))
    tf32 = out / "results-tf32"
    steps.append(Step("run tf32", run(tf32, "--batch-sizes", "1,64", "--precision", "tf32", "--no-memory",
                                      models=models), 0.15 * budget, _newest_json(tf32, "run_tf32.json"),
                      tables=True))
    # Host transfers once, on two dense models at batch 64: enough to see what the copies cost.
    transfer = [m for m in ("mnist-cnn", "cifar100-bottleneck") if not models or m in models]
    if transfer:
        folder = out / "results-transfer"
        command = run(folder, "--batch-sizes", "64", "--include-transfer", "--no-memory", models=transfer)
        steps.append(Step("run include-transfer", command, 0.08 * budget,
                          _newest_json(folder, "run_transfer.json"), tables=True))
    return steps


# The files one check writes into its folder; a new check replaces them (results folders are kept).
OUTPUTS = ("doctor.json", "doctor.log", TABLES, "cuda_tests.xml", "run_fp32.json", "run_tf32.json",
           "run_transfer.json")


def _prepare_folders(out: Path) -> None:
    """Remove the previous check's own files, and let the later runs share the fp32 run's exports."""
    for name in OUTPUTS:
        (out / name).unlink(missing_ok=True)
    exports = out / "results" / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    for folder in ("results-tf32", "results-transfer"):
        link = out / folder / "exports"
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists() and not link.is_symlink():
            link.symlink_to(exports, target_is_directory=True)


def _newest_json(results: Path, name: str) -> Callable[[Path, float], dict[str, Path]]:
    """A collector: the newest benchmark JSON the step wrote in `results`, kept in the output folder as
    `name` (none when the step wrote none: an earlier step's file is never passed off as this one's)."""

    def collect(out: Path, since: float) -> dict[str, Path]:
        written = [p for p in (results / "benchmarks").glob("*.json") if p.stat().st_mtime >= since]
        found = sorted(written, key=lambda p: p.stat().st_mtime)
        if not found:
            return {}
        target = out / name
        shutil.copyfile(found[-1], target)
        return {name: target}

    return collect


def check_required() -> None:
    """BenchError naming the required packages this interpreter lacks."""
    missing = [name for name in REQUIRED if importlib.util.find_spec(name) is None]
    if missing:
        raise BenchError(f"bench doctor cannot run here: missing {', '.join(missing)} for {sys.executable}")


def check_ready(options: DoctorOptions) -> dict[str, object]:
    """Everything but the GPU: the output folder, the steps' options, the tests it will run (call after
    check_required). An invalid option is a BenchError; optional packages are reported."""
    ensure_output_dir(options.out_dir)
    # The run steps' options go through the same validation `bench run` applies (CUDA itself is not asked).
    RunConfig(device=options.device, models=options.models, runtimes=tuple(runtimes_for(options.device)),
              max_time_s=options.max_time_s, results_dir=options.out_dir / "results")
    ready: dict[str, object] = {
        "python": sys.executable, "source": str(REPO),
        "optional": {name: {"installed": importlib.util.find_spec(name) is not None, "for": why}
                     for name, why in OPTIONAL.items()},
        "runtimes": runtimes_for(options.device),
    }
    if options.tests:
        ready["cuda_tests"] = _collect_cuda_tests()
    return ready


def _collect_cuda_tests() -> int:
    """How many tests the cuda step will run (collected, not run); BenchError when collection fails."""
    if not (REPO / "tests").is_dir():
        raise BenchError(f"no tests/ beside {REPO / 'bench'}: run bench doctor from a source checkout, "
                         "or pass --no-tests")
    try:
        proc = subprocess.run([*_PYTEST, "--collect-only", "-q"], capture_output=True, text=True, cwd=REPO,
                              env=step_env(), timeout=300)
    except subprocess.TimeoutExpired:
        raise BenchError("collecting the cuda-marked tests took over 300 s; pass --no-tests to skip them") \
            from None
    if proc.returncode != 0:
        tail = " | ".join(proc.stdout.strip().splitlines()[-3:])
        raise BenchError(f"the cuda-marked tests do not collect (pytest exit {proc.returncode}): {tail}")
    return sum(1 for line in proc.stdout.splitlines() if "::" in line)


def step_env() -> dict[str, str]:
    """The environment for every step (and `bench reproduce`'s commands): this source tree first on
    PYTHONPATH, unbuffered output."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}


def run_step(step: Step, limit_s: float, log, out_dir: Path) -> StepResult:
    """Run `step` with its output appended to `log`; past `limit_s` it gets SIGINT (its finished work is
    saved the Ctrl-C way), then SIGKILL after GRACE_S."""
    log.write(f"\n=== {step.name}: {' '.join(step.command)} (limit {limit_s:.0f} s)\n")
    log.flush()
    started, since = time.monotonic(), time.time()
    tables = out_dir / TABLES if step.tables else None
    if tables is not None:
        with open(tables, "a", encoding="utf-8") as fh:
            fh.write(f"\n## {step.name}\n\n")
    with contextlib.ExitStack() as stack:
        stdout = stack.enter_context(open(tables, "a", encoding="utf-8")) if tables is not None else log
        # Its own process group, so the interrupt reaches the step and whatever it started in that group.
        proc = subprocess.Popen(step.command, stdout=stdout, stderr=log if tables else subprocess.STDOUT,
                                cwd=REPO, env=step_env(), start_new_session=True, preexec_fn=_sigint_default)
        try:
            timed_out = _wait(proc, limit_s)
        except BaseException:  # Ctrl-C (or anything) in the doctor: never leave the step running alone
            _stop(proc)
            raise
    seconds = time.monotonic() - started
    files = step.collect(out_dir, since) if step.collect else {}
    if tables is not None:
        files[TABLES] = tables
    if timed_out:
        status, reason = "timed out", f"stopped after {limit_s:.0f} s; finished work kept"
    else:
        status = "passed" if proc.returncode == 0 else "failed"
        reason = "" if proc.returncode == 0 else f"exit {proc.returncode}; see doctor.log"
    log.write(f"=== {step.name}: {status} in {seconds:.1f} s\n")
    log.flush()
    return StepResult(step.name, status, round(seconds, 1), proc.returncode, reason, sorted(files))


def _sigint_default() -> None:
    """In the step's process, before exec: SIGINT back to its default action.

    A doctor started with SIGINT ignored (`nohup bench doctor … &`, some CI runners) would pass that on, and
    the budget's interrupt would be lost: the step would run to its end past its share. No threads run in
    the doctor while it starts a step, so this pre-exec hook is safe."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait(proc: subprocess.Popen, limit_s: float) -> bool:
    """Wait for `proc`; past `limit_s` interrupt its group (SIGINT), then kill it after GRACE_S. True when
    the limit was reached."""
    try:
        proc.wait(timeout=limit_s)
        return False
    except subprocess.TimeoutExpired:
        _stop(proc)
        return True


def _stop(proc: subprocess.Popen) -> None:
    """Interrupt `proc`'s group like Ctrl-C, so it saves what it finished; kill it after GRACE_S."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_doctor(options: DoctorOptions, *, dry_run: bool = False,
               on_step: Callable[[StepResult], None] | None = None) -> tuple[list[StepResult], Path]:
    """Check readiness, then (unless `dry_run`) run every step within the budget; doctor.json summarises."""
    started = time.monotonic()
    if not dry_run:
        resolve_device(options.device)  # CUDA missing: one line, before anything runs
    check_required()
    steps = plan(options)
    ready = check_ready(options)
    out = options.out_dir
    results: list[StepResult] = []
    if dry_run:
        results = [StepResult(s.name, "planned", reason=f"limit {s.limit_s:.0f} s: {' '.join(s.command)}")
                   for s in steps]
    else:
        _prepare_folders(out)
        try:
            with open(out / "doctor.log", "a", encoding="utf-8") as log:
                for step in steps:
                    left = options.budget_s - (time.monotonic() - started)
                    if left < 10:
                        spent = f"budget spent ({options.budget_s:.0f} s)"
                        result = StepResult(step.name, "skipped", reason=spent)
                    else:
                        result = run_step(step, min(step.limit_s, left), log, out)
                    results.append(result)
                    if on_step is not None:
                        on_step(result)
        except KeyboardInterrupt:
            results.append(StepResult(steps[len(results)].name, "interrupted", reason="Ctrl-C"))
            _write_summary(options, dry_run, started, ready, results, steps)
            raise DoctorInterrupted(f"interrupted: the finished steps are in {out / 'doctor.json'}") from None
    return results, _write_summary(options, dry_run, started, ready, results, steps)


class DoctorInterrupted(BenchError):
    """Ctrl-C during `bench doctor`: the step running was stopped, the summary written; exit 130."""

    exit_code = 130


def _write_summary(options: DoctorOptions, dry_run: bool, started: float, ready: dict,
                   results: list[StepResult], steps: list[Step]) -> Path:
    """doctor.json: the readiness checks, each step's outcome and the plan."""
    summary = {"dry_run": dry_run, "device": options.device, "budget_s": options.budget_s,
               "wall_s": round(time.monotonic() - started, 1), "ready": ready,
               "steps": [asdict(r) for r in results],
               "plan": [{"name": s.name, "command": s.command, "limit_s": round(s.limit_s, 1)}
                        for s in steps]}
    return write_json(options.out_dir / "doctor.json", summary)
