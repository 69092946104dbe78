"""A small results/ folder in the real on-disk formats: `bench run` JSON, `bench train` and `bench sweep`
records.

The benchmark JSON mirrors what pytest-benchmark writes under `bench run` (suites/test_latency.py's
extra_info, bench.records.schema.latency_info's fields, the `bench` section of suites/conftest.py); the
training record mirrors train.runner's metrics file and the sweep record train.sweep's.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.records.schema import SCHEMA_VERSION, latency_info

ENVIRONMENT = {
    "schema_version": SCHEMA_VERSION, "os": "Linux 6.0", "python": "3.11.7", "cpu": "Test CPU",
    "physical_cores": 2,
    "logical_cores": 2, "threads_used": 2, "ram_gib": 8.0, "packages": {"torch": "2.11.0"},
    "onnxruntime_providers_available": ["CPUExecutionProvider"],
    "cuda": {"available": False, "torch_cuda_build": None, "cudnn": None, "cudnn_benchmark": False},
    "deterministic_algorithms": False, "git_commit": "abc123",
}


def case(model: str, runtime: str, batch: int, p50_ms: float, device: str = "cpu", unit: str = "samples",
         peak_memory_bytes: int | None = None) -> dict:
    """One pytest-benchmark entry whose rounds have median `p50_ms` (and a slower tail)."""
    p50 = p50_ms / 1e3
    samples = [p50 * 0.9] * 4 + [p50] * 3 + [p50 * 1.2] * 2 + [p50 * 2.0]
    ordered = sorted(samples)
    mid = (ordered[4] + ordered[5]) / 2
    extra = {
        "model": model, "runtime": runtime, "device": device, "batch": batch, "unit": unit,
        "parity": {"max_abs": 0.0 if runtime == "eager" else 1e-6, "max_rel": 0.0, "argmax_agreement": 1.0,
                   "atol": 1e-4, "rtol": 1e-3, "passed": True,
                   "checked_on": f"batch {batch}, seed 0, on cpu"},
        "artifact_bytes": 400_000, "threads": 2, "interop_threads": 1, "providers": ["CPUExecutionProvider"],
        "runtime_device": device, "recipe": "test", "weights": "untrained, seed 0", "warmup": "10 calls",
        **latency_info(samples, items=batch, iterations=1),
    }
    if peak_memory_bytes is not None:
        extra |= {"peak_memory_bytes": peak_memory_bytes, "peak_memory_method": "process RSS high-water mark"}
    case_id = f"{model}-{runtime}-{device}-{'n' if unit == 'nodes' else 'b'}{batch}"
    return {
        "group": f"{model}|{device}|{batch}", "name": f"test_latency[{case_id}]",
        "fullname": f"suites/test_latency.py::test_latency[{case_id}]",
        "params": {"case": f"UNSERIALIZABLE[Case(model='{model}')]"}, "param": case_id, "extra_info": extra,
        "options": {"disable_gc": True, "timer": "perf_counter", "min_rounds": 5, "max_time": 1.0,
                    "min_time": 5e-06, "precision": None, "confidence": None, "warmup": 10},
        "stats": {"min": min(samples), "max": max(samples), "mean": sum(samples) / len(samples),
                  "stddev": 0.0, "rounds": len(samples), "median": mid, "iqr": 0.0, "q1": ordered[2],
                  "q3": ordered[7],
                  "iqr_outliers": 0, "stddev_outliers": 0, "outliers": "0;0", "ld15iqr": min(samples),
                  "hd15iqr": max(samples), "ops": 1 / mid, "total": sum(samples), "data": samples,
                  "iterations": 1},
    }


def outcome(model: str, runtime: str, batch: int, status: str = "passed", reason: str = "",
            device: str = "cpu", unit: str = "samples") -> dict:
    """One entry of the JSON's bench.outcomes list."""
    return {"model": model, "runtime": runtime, "device": device, "batch": batch, "unit": unit,
            "status": status, "reason": reason}


def write_benchmark(results: Path, stamp: str, cases: list[dict], extra_outcomes: list[dict] = (),
                    device: str = "cpu", environment: dict | None = None) -> Path:
    """results/benchmarks/<stamp>_<device>.json with `cases` measured and `extra_outcomes` skipped/failed
    (`environment`: machine_info.bench, default ENVIRONMENT)."""
    outcomes = [outcome(c["extra_info"]["model"], c["extra_info"]["runtime"], c["extra_info"]["batch"],
                        device=device, unit=c["extra_info"]["unit"]) for c in cases] + list(extra_outcomes)
    data = {
        "machine_info": {"node": "test", "processor": "x86_64", "machine": "x86_64",
                         "python_version": "3.11.7", "system": "Linux", "bench": environment or ENVIRONMENT},
        "commit_info": {"id": "abc123", "dirty": False},
        "benchmarks": cases,
        "datetime": "2026-11-23T11:55:21.051737+00:00",
        "version": "5.3.1",
        "bench": {"schema_version": SCHEMA_VERSION, "outcomes": outcomes,
                  "suite": {"device": device, "threads": 2, "seed": 0, "warmup_calls": 10,
                            "batch_sizes": [1, 64], "exports": str(results / "exports")}},
    }
    path = results / "benchmarks" / f"{stamp}_{device}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def history(epochs: int, start_acc: float = 0.3) -> list[dict]:
    """train.loop.EpochStats dicts: loss falls, accuracy rises."""
    out = []
    for e in range(1, epochs + 1):
        acc = min(0.99, start_acc + 0.1 * e)
        out.append({"epoch": e, "train_loss": 2.0 / e, "train_acc": acc + 0.05, "val_loss": 2.2 / e,
                    "val_acc": acc, "val_f1": acc - 0.01, "lr": 0.01, "compute_s": 0.1, "data_s": 0.0,
                    "elapsed_s": 0.15 * e})
    return out


def write_training(results: Path, dataset: str, model: str, test_accs: tuple[float, ...] = (0.8,),
                   epochs: int = 3, config: dict | None = None, metrics: dict | None = None) -> Path:
    """results/training/<dataset>/<model>.json as train.runner writes it, one run per test accuracy."""
    runs = []
    for i, acc in enumerate(test_accs):
        cfg = {"dataset": dataset, "model": model, "seed": 42 + i, "epochs": epochs, "batch_size": 64,
               "optimizer": "adam", "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4, "scheduler": "none",
               "step_size": 3, "gamma": 0.5, "model_kwargs": {}, "num_neighbors": [], "target_accuracy": None,
               **(config or {})}
        m = {"seed": 42 + i, "epochs": epochs, "best_epoch": epochs, "val_acc": acc - 0.01,
             "val_f1": acc - 0.02, "val_loss": 1.0, "test_acc": acc, "test_f1": acc - 0.02, "test_loss": 0.9,
             "final_test_acc": acc - 0.005, "final_test_f1": acc - 0.03, "total_train_time_s": 1.5 + i,
             "train_loop_time": 2.5 + i,
             "data_time_s": 0.0, "num_parameters": 1000, "device": "cpu", "threads": 2, "graph": "traced",
             **(metrics or {})}
        runs.append({"config": cfg, "metrics": m, "history": history(epochs)})
    summary = {}
    for key in ("test_acc", "test_f1", "val_acc", "total_train_time_s", "train_loop_time", "final_test_acc",
                "time_to_target_s", "epochs_to_target"):
        values = [r["metrics"][key] for r in runs if isinstance(r["metrics"].get(key), (int, float))]
        if len(values) == len(runs):
            mean = sum(values) / len(values)
            spread = sum((v - mean) ** 2 for v in values)
            std = (spread / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
            summary[key] = {"mean": mean, "std": std, "n": len(values)}
    record = {"model": model, "dataset": dataset, "created": "2026-11-23T12:00:00",
              "checkpoint": str(results / "checkpoints" / f"{model}.pt"), "selected_seed": 42,
              "summary": summary, "runs": runs, "versions": {"torch": "2.11.0"}}
    path = results / "training" / dataset / f"{model}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2))
    return path


def write_sweep(results: Path, dataset: str, model: str, stamp: str = "20261123-120000") -> Path:
    """results/sweeps/<model>-<stamp>.json as train.sweep writes it: 2 lr × 2 kernel sizes, best first."""
    rows = []
    for lr in (0.01, 0.02):
        for kernel in (3, 5):
            acc = 0.2 + lr * 5 + kernel / 100
            rows.append({"name": f"lr={lr:g},kernel_size={kernel}",
                         "values": {"lr": lr, "model_kwargs.kernel_size": kernel}, "val_acc": acc,
                         "val_f1": acc - 0.02, "val_loss": 3.0 - acc, "best_epoch": 3,
                         "total_train_time_s": 12.0})
    rows.sort(key=lambda r: -r["val_acc"])
    base = {"dataset": dataset, "model": model, "seed": 42, "epochs": 3, "lr": 0.02, "weight_decay": 1e-5,
            "model_kwargs": {"channels": [32, 64, 128], "kernel_size": 5}}
    path = results / "sweeps" / f"{model}-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"model": model, "dataset": dataset, "base_config": base,
                                "grid": {"lr": [0.01, 0.02], "model_kwargs.kernel_size": [3, 5]},
                                "selected_by": "val_acc", "rows": rows}, indent=2))
    return path


def make_results(root: Path) -> Path:
    """A results/ folder with gaps: cora-mlp and cora-gcn trained (gcn over 2 seeds), cora-sage not;
    cora-gcn timed on eager and onnxruntime (torchscript skipped), cora-mlp only on eager; mnist-mlp timed
    at batch 1 and 64 in an older and a newer file; one ESC-50 sweep; MNIST Adam+BN+StepLR trained."""
    results = root / "results"
    write_training(results, "cora", "cora-mlp", (0.575,))
    write_training(results, "cora", "cora-gcn", (0.803, 0.813))
    write_training(results, "mnist", "mnist-cnn-bn", (0.994,), epochs=4,
                   config={"optimizer": "adam", "lr": 0.002, "scheduler": "step", "target_accuracy": 0.97},
                   metrics={"target_accuracy": 0.97, "time_to_target_s": 12.5, "epochs_to_target": 1})
    write_training(results, "mnist", "mnist-mlp", (0.95,), epochs=2,
                   config={"optimizer": "sgd", "lr": 0.01, "model_kwargs": {"hidden": 128}})
    write_benchmark(results, "20261123T100000Z", [
        case("mnist-mlp", "eager", 1, 0.05), case("mnist-mlp", "onnxruntime", 1, 0.02),
        case("mnist-mlp", "eager", 64, 0.5),
    ])
    write_benchmark(results, "20261123T110000Z", [
        case("cora-gcn", "eager", 2708, 4.0, unit="nodes"),
        case("cora-gcn", "onnxruntime", 2708, 2.0, unit="nodes"),
        case("cora-mlp", "eager", 2708, 0.8, unit="nodes"),
        case("mnist-mlp", "eager", 64, 0.4), case("mnist-mlp", "onnxruntime", 64, 0.1),
        case("mnist-mlp", "torchscript", 64, 0.3),
    ], extra_outcomes=[outcome("cora-gcn", "torchscript", 2708, "skipped", "torchscript: export failed: test",
                               unit="nodes")])
    write_sweep(results, "esc50", "esc50-cnn")
    return results
