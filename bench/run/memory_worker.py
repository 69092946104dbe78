"""Peak memory of one row (model × runtime × device × batch), measured in a process of its own.

Run as `python -m bench.run.memory_worker ...`; prints one JSON object. A fresh process per row keeps
one runtime's arenas and caches from inflating the next runtime's figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from bench.measure.precision import FP32, PrecisionPolicy
from train.errors import BenchError
from train.processes import child_env, die_with_parent


def measure_row_memory(model: str, runtime: str, device: str, size: int | None, model_dir: Path,
                       threads: int, calls: int = 5, trust: bool = False,
                       precision: PrecisionPolicy = FP32, options: dict | None = None,
                       data_dir: str = "", seed: int = 0) -> dict:
    """The row's peak memory while loading (and binding inputs) and while running `calls` calls after two
    warm-up calls, under the run's precision policy (cuDNN autotuning changes workspace memory), both
    above a baseline taken after the imports; the figures as a dict."""
    import torch

    from bench.measure.memory import measure_phases
    from bench.run.graph_inputs import benchmark_inputs
    from bench.runtimes import get_runtime
    from train.registry import get_model

    precision.apply_to_torch()
    spec = get_model(model)
    inputs, _ = benchmark_inputs(spec, size, seed, data_dir or None)  # what the timed row ran on
    adapter = get_runtime(runtime)
    adapter.preload()  # the baseline is taken after every import the runtime needs
    if torch.device(device).type == "cuda":
        torch.cuda.mem_get_info(device)  # creates the CUDA context: the process's memory, not the model's

    def load():
        session = adapter.load(spec, model_dir, torch.device(device), threads, trust=trust,
                               precision=precision, options=options)
        return session.bind(inputs)

    phases = measure_phases(load, device=device, cuda_method=adapter.cuda_memory, calls=calls)
    figure = asdict(max(phases.load, phases.inference, key=lambda f: f.peak_bytes))
    figure |= {"load_bytes": phases.load.peak_bytes, "inference_bytes": phases.inference.peak_bytes,
               "scope": "above the imports (and the CUDA context): load = loading the model and binding "
                        "its inputs; inference = the calls after warm-up, high-water mark reset after load"}
    return figure


def measure_in_subprocess(model: str, runtime: str, device: str, size: int | None, model_dir: Path,
                          threads: int, calls: int = 5, timeout_s: float = 300, trust: bool = False,
                          precision: PrecisionPolicy = FP32, options: dict | None = None,
                          data_dir: str = "", seed: int = 0) -> dict:
    """Run `measure_row_memory` in a fresh interpreter; BenchError with its stderr if it fails."""
    cmd = [sys.executable, "-m", "bench.run.memory_worker", "--model", model, "--runtime", runtime,
           "--device", device, "--model-dir", str(model_dir), "--threads", str(threads),
           "--calls", str(calls)]
    if size is not None:
        cmd += ["--size", str(size)]
    cmd += ["--precision", precision.precision, "--options", json.dumps(options or {}),
            "--data-dir", data_dir, "--seed", str(seed)]
    if precision.cudnn_benchmark:
        cmd.append("--cudnn-benchmark")
    if trust:
        cmd.append("--trust")  # the timed row loaded an unvouched TorchScript file with --trust: so may this
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=child_env())
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"memory probe for {model}/{runtime} failed: {last}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Entry point of the worker process: one JSON line on stdout."""
    die_with_parent()  # a killed suite must not leave its memory probe running
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--runtime", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--trust", action="store_true",
                        help="load TorchScript files the manifest does not vouch for")
    parser.add_argument("--precision", default="fp32", help="the run's precision policy (fp32 or tf32)")
    parser.add_argument("--cudnn-benchmark", action="store_true", help="cuDNN autotuning, as the run")
    parser.add_argument("--options", default="{}", help="the runtime's options as JSON, as the run has them")
    parser.add_argument("--data-dir", default="", help="where the run looks for Cora (graph rows)")
    parser.add_argument("--seed", type=int, default=0, help="the run's input seed")
    args = parser.parse_args(argv)
    figure = measure_row_memory(args.model, args.runtime, args.device, args.size, args.model_dir,
                                args.threads, args.calls, trust=args.trust,
                                precision=PrecisionPolicy(args.precision, args.cudnn_benchmark),
                                options=json.loads(args.options), data_dir=args.data_dir, seed=args.seed)
    print(json.dumps(figure))  # noqa: T201 - the worker's protocol: one JSON line on stdout
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
