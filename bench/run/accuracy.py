"""Test accuracy of each exported format, re-measured through every runtime on the real test split."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torch_geometric.data import Data

from bench.records.schema import REFERENCE_RUNTIME
from bench.run.artifacts import ensure_exported
from bench.run.selection import parse_models, parse_runtimes
from bench.runtimes import RuntimeUnavailable, Session, default_runtime_names, get_runtime
from train.checkpoint import CheckpointError, checkpoint_path, fit_model, read_checkpoint, retrain_hint
from train.config import TrainConfig, build_config
from train.data.registry import data_key, load_data
from train.data.splits import Splits
from train.errors import BenchError
from train.fileio import ensure_output_dir, json_text, write_unique
from train.metrics import accuracy
from train.registry import ModelSpec, get_model

CPU = torch.device("cpu")


@dataclass(frozen=True)
class AccuracyRow:
    """One model through one runtime on its test split (runtime None: the model could not be measured)."""

    model: str
    dataset: str
    runtime: str | None
    test_acc: float | None  # re-measured through this runtime
    delta_vs_eager_pp: float | None  # (test_acc - eager's) in percentage points
    differs_from_eager: int | None  # test samples whose predicted class differs from eager's
    samples: int | None
    checkpoint_test_acc: float | None  # what training recorded in the checkpoint
    note: str = ""


@dataclass(frozen=True)
class AccuracyOutcome:
    """The rows and the JSON they were written to."""

    rows: list[AccuracyRow]
    json_path: Path


def measure_accuracy(models: str | Sequence[str] | None, data_dir: Path, results_dir: Path, *,
                     download: bool = True, threads: int = 1, runtimes: str | None = None,
                     on_model: Callable[[str], None] | None = None) -> AccuracyOutcome:
    """Measure each requested model with a checkpoint through each of `runtimes` (comma-separated, or
    `all`; default: the default runtimes, as `bench run`); write results/accuracy/."""
    names = parse_models(models if isinstance(models, str) or models is None else ",".join(models))
    chosen = parse_runtimes(runtimes)
    if REFERENCE_RUNTIME not in chosen:
        chosen = (REFERENCE_RUNTIME, *chosen)  # every other runtime's accuracy is read against eager's
    results_dir = Path(results_dir)
    for folder in (results_dir / "accuracy", results_dir / "exports"):
        ensure_output_dir(folder)  # an unwritable results folder fails now, not after every model ran
    rows: list[AccuracyRow] = []
    data_cache: dict[tuple, Splits | Data] = {}
    for name in names:
        if on_model is not None:
            on_model(name)
        rows += model_rows(get_model(name), Path(data_dir), results_dir, download, threads, data_cache,
                           runtimes=chosen)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    # Claimed when written (exclusive create): checks finishing in the same second each keep their file.
    target = write_unique(results_dir / "accuracy" / f"{stamp}.json", json_text({
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": "cpu",
        "threads": threads,
        "data_dir": str(Path(data_dir).resolve()),
        "results_dir": str(results_dir.resolve()),
        "rows": [asdict(r) for r in rows],
    }).encode("utf-8"))
    return AccuracyOutcome(rows, target)


def model_rows(spec: ModelSpec, data_dir: Path, results_dir: Path, download: bool, threads: int,
               data_cache: dict[tuple, Splits | Data] | None = None,
               runtimes: Sequence[str] | None = None) -> list[AccuracyRow]:
    """One row per runtime for `spec`, or a single row saying why it cannot be measured."""
    if spec.weights_of:  # esc50-wave: esc50-cnn's weights; the test split holds features, not waveforms
        return [AccuracyRow(spec.name, spec.dataset, None, None, None, None, None, None,
                            f"runs {spec.weights_of}'s weights on raw audio, and the test split is stored "
                            f"as features: measure {spec.weights_of} "
                            f"(`bench accuracy --models {spec.weights_of}`)")]
    ckpt = checkpoint_path(results_dir, spec.name)
    if not ckpt.is_file():
        return [AccuracyRow(spec.name, spec.dataset, None, None, None, None, None, None,
                            f"no checkpoint: run `bench train {spec.dataset} --model {spec.name}`")]
    payload, cfg = _read_checkpoint(spec, ckpt)
    recorded = payload["metrics"].get("test_acc")
    recorded = float(recorded) if isinstance(recorded, (int, float)) and math.isfinite(recorded) else None
    cache = data_cache if data_cache is not None else {}
    key = data_key(cfg)
    if key not in cache:
        cache[key] = load_data(cfg, data_dir, download)
    test = _test_batches(spec, cfg, cache[key])
    runtimes = tuple(runtimes) if runtimes is not None else tuple(default_runtime_names())
    formats = tuple(dict.fromkeys(f for f in (get_runtime(n).export_format for n in runtimes) if f))
    artifacts = ensure_exported(spec, results_dir / "exports", results_dir / "checkpoints",
                                formats=formats or None)

    rows: list[AccuracyRow] = []
    eager: torch.Tensor | None = None
    eager_acc = 0.0
    for runtime_name in runtimes:
        runtime = get_runtime(runtime_name)
        base = dict(model=spec.name, dataset=spec.dataset, runtime=runtime_name,
                    checkpoint_test_acc=recorded)
        reason = artifacts.unavailable_reason(runtime.export_format)
        if reason is None:
            try:
                session = runtime.load(spec, artifacts.model_dir, CPU, threads)
            except RuntimeUnavailable as exc:
                reason = str(exc)
        if reason is not None:
            rows.append(AccuracyRow(**base, test_acc=None, delta_vs_eager_pp=None, differs_from_eager=None,
                                    samples=None, note=reason))
            continue
        preds, targets = _predict(session, test)
        acc = accuracy(preds, targets)  # training's own definition (a float32 mean), so the numbers agree
        if runtime_name == REFERENCE_RUNTIME:
            eager, eager_acc = preds, acc
        delta = None if eager is None else (acc - eager_acc) * 100.0
        differs = None if eager is None else int((preds != eager).sum())
        rows.append(AccuracyRow(**base, test_acc=acc, delta_vs_eager_pp=delta, differs_from_eager=differs,
                                samples=int(len(targets))))
    return rows


def row_accuracy(spec: ModelSpec, runtime_name: str, data_dir: Path, results_dir: Path,
                 threads: int) -> dict:
    """A benchmark row's `accuracy` field: `runtime_name`'s test accuracy beside eager's on the real test
    split of the trained checkpoint (as `bench accuracy` measures it, never downloading), or {"reason":
    why not} (untrained weights, test split not in the data dir, a checkpoint bench cannot use)."""
    try:
        rows = model_rows(spec, Path(data_dir), Path(results_dir), False, threads,
                          runtimes=(REFERENCE_RUNTIME, runtime_name))
    except BenchError as exc:
        return {"reason": str(exc)}
    measured = {r.runtime: r for r in rows if r.test_acc is not None}
    mine, eager = measured.get(runtime_name), measured.get(REFERENCE_RUNTIME)
    if mine is None or eager is None:
        return {"reason": next((r.note for r in rows if r.note), "not measured")}
    return {"split": "test", "dataset": spec.dataset, "samples": mine.samples, "test_acc": mine.test_acc,
            "eager_test_acc": eager.test_acc, "delta_vs_eager_pp": mine.delta_vs_eager_pp,
            "differs_from_eager": mine.differs_from_eager}


def _read_checkpoint(spec: ModelSpec, ckpt: Path) -> tuple[dict, TrainConfig]:
    """The checkpoint of `spec` and the config it was trained with, checked before any data is loaded: its
    weights must fit the model and its config be valid; CheckpointError (one line, exit 2) otherwise."""
    payload = read_checkpoint(ckpt, spec.name)
    fit_model(ckpt, payload, spec=spec)
    try:
        cfg = build_config(dict(payload["config"]), str(ckpt))
    except BenchError as exc:
        raise CheckpointError(ckpt, f"holds a training config bench cannot use ({exc})",
                              retrain_hint(spec.name)) from None
    if cfg.model != spec.name:
        raise CheckpointError(ckpt, f"was trained for {cfg.model}, not {spec.name}", retrain_hint(spec.name))
    return payload, cfg


# (model inputs, labels, rows of the output to score: a node mask, or None for all of them)
Batch = tuple[tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor | None]


def _test_batches(spec: ModelSpec, cfg: TrainConfig, data: Splits | Data) -> Callable[[], list[Batch]]:
    """The test split as the training task evaluates it: Cora's test mask, or the test DataLoader."""
    if isinstance(data, Data):
        mask = data.test_mask
        if "edge_index" in spec.input_names:  # full graph in, test nodes' logits out
            return lambda: [((data.x, data.edge_index), data.y[mask], mask)]
        return lambda: [((data.x[mask],), data.y[mask], None)]  # nodes are independent without edges

    def batches() -> list[Batch]:
        loader = DataLoader(data.test, batch_size=cfg.eval_batch_size, shuffle=False,
                            num_workers=cfg.num_workers)
        return [((inputs,), labels, None) for inputs, labels in loader]

    return batches


def _predict(session: Session, test: Callable[[], list[Batch]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted classes and labels over the test split through `session`."""
    preds, targets = [], []
    for inputs, labels, rows in test():
        logits = session.run(inputs)
        if rows is not None:
            logits = logits[rows]
        if labels.shape[0] != logits.shape[0]:
            raise BenchError(f"{session.details.runtime} returned {logits.shape[0]} rows for "
                             f"{labels.shape[0]} labels")
        preds.append(logits.argmax(1))
        targets.append(labels)
    return torch.cat(preds), torch.cat(targets)
