"""Mutated copies of the real run file in tests/records/data for `bench compare` tests: a row's per-round
samples (`stats.data`, seconds per call) scaled or jittered, and every figure the row carries recomputed from
them with the writer's own builders (bench.records.schema), so the copies are what `bench run` would write."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

from bench.records.schema import latency_info, stability_info

REAL_RUN = Path(__file__).parent / "data" / "run_schema1_cpu.json"
# Relative spreads applied to a 5-round row: a noisy row whose samples of two runs overlap.
JITTER_5 = (0.70, 0.85, 1.00, 1.15, 1.30)


def real_run() -> dict:
    """A fresh copy of the real run (mnist-mlp at batch 1 with 706-1823 rounds, cora-mlp with 5 rounds)."""
    return json.loads(REAL_RUN.read_text())


def entry(doc: dict, model: str, runtime: str) -> dict:
    """The `benchmarks` entry of one row."""
    return next(e for e in doc["benchmarks"]
                if e["extra_info"]["model"] == model and e["extra_info"]["runtime"] == runtime)


def samples(doc: dict, model: str, runtime: str) -> np.ndarray:
    """A row's per-round seconds per call."""
    return np.asarray(entry(doc, model, runtime)["stats"]["data"], dtype=float)


def with_samples(doc: dict, model: str, runtime: str, new: np.ndarray) -> dict:
    """A copy of `doc` whose row holds `new` samples, its latency and stability fields rebuilt from them."""
    out = copy.deepcopy(doc)
    target = entry(out, model, runtime)
    values = [float(v) for v in new]
    extra, stats = target["extra_info"], target["stats"]
    extra.update(latency_info(values, extra["batch"], extra["calls_per_round"]))
    extra.update(stability_info(values, extra_rounds=0))
    stats.update(data=values, rounds=len(values), median=float(np.median(values)), min=min(values),
                 max=max(values), mean=float(np.mean(values)))
    return out


def scaled(doc: dict, model: str, runtime: str, factor: float) -> dict:
    """Every round of the row `factor` times as long (its spread, hence its stability, unchanged)."""
    return with_samples(doc, model, runtime, samples(doc, model, runtime) * factor)


def jittered(doc: dict, model: str, runtime: str, sigma: float, seed: int, factor: float = 1.0) -> dict:
    """Each round multiplied by a seeded log-normal factor of spread `sigma` (and by `factor`)."""
    base = samples(doc, model, runtime)
    noise = np.random.default_rng(seed).lognormal(0.0, sigma, size=len(base))
    return with_samples(doc, model, runtime, base * noise * factor)


def write(folder: Path, name: str, doc: dict) -> Path:
    """`doc` saved as folder/name.json (NaN written as JSON's NaN, as Python's json does)."""
    path = folder / f"{name}.json"
    path.write_text(json.dumps(doc))
    return path
