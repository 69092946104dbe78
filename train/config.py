"""Typed training configs: YAML files mirroring the reports, per-model overrides, CLI `key=value` sets."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from train.data.registry import dataset_names, get_dataset
from train.errors import BenchError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
OPTIMIZERS = ("sgd", "sgd-momentum", "adam", "rmsprop")
SCHEDULERS = ("none", "step")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run of one model (values from the reports' configs)."""

    dataset: str
    model: str
    seed: int = 42
    epochs: int = 10
    batch_size: int = 64  # graph models: seed nodes per mini-batch (only neighbour-sampled models use it)
    eval_batch_size: int = 1000
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # only for optimizer "sgd-momentum"
    weight_decay: float = 0.0
    scheduler: str = "none"
    step_size: int = 3  # StepLR period, epochs
    gamma: float = 0.5  # StepLR factor
    model_kwargs: dict = field(default_factory=dict)
    num_neighbors: tuple[int, ...] = ()  # empty: full-batch graph training
    val_fraction: float = 0.1  # seeded hold-out of the official train set (MNIST, CIFAR-100)
    split_seed: int = 42  # fixed apart from `seed` so several seeds see the same split
    augment: bool = True  # train-only augmentations, where the dataset has some
    train_subset: int = 0  # >0: keep only the first N training samples (sanity checks, tests)
    eval_subset: int = 0  # >0: keep only the first N val and test samples
    target_accuracy: float | None = None  # record the train time until val accuracy first reaches it
    num_workers: int = 0

    def __post_init__(self) -> None:
        _require(self.dataset in dataset_names(),
                 f"dataset must be one of {', '.join(dataset_names())}, got {self.dataset!r}")
        for name in ("epochs", "batch_size", "eval_batch_size", "step_size"):
            _require(getattr(self, name) > 0, f"{name} must be positive, got {getattr(self, name)}")
        _require(self.lr > 0, f"lr must be positive, got {self.lr}")
        _require(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        _require(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}")
        _require(0 < self.gamma <= 1, f"gamma must be in (0, 1], got {self.gamma}")
        _require(self.optimizer in OPTIMIZERS,
                 f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        _require(self.scheduler in SCHEDULERS,
                 f"scheduler must be one of {', '.join(SCHEDULERS)}, got {self.scheduler!r}")
        _require(0 < self.val_fraction < 1, f"val_fraction must be in (0, 1), got {self.val_fraction}")
        _require(all(k > 0 for k in self.num_neighbors),
                 f"num_neighbors must be positive fanouts, got {list(self.num_neighbors)}")
        for name in ("train_subset", "eval_subset", "num_workers"):
            _require(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        if self.target_accuracy is not None:
            _require(0 < self.target_accuracy <= 1,
                     f"target_accuracy must be in (0, 1], got {self.target_accuracy}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (tuples as lists) for JSON and `torch.load(weights_only=True)` checkpoints."""
        return _plain(dataclasses.asdict(self))


@dataclass(frozen=True)
class DatasetConfig:
    """One dataset's YAML: the models it trains by default, shared values, per-model overrides."""

    dataset: str
    models: tuple[str, ...]
    base: dict[str, Any]
    overrides: dict[str, dict[str, Any]]
    source: str

    def for_model(self, model: str, sets: dict[str, Any] | None = None) -> TrainConfig:
        """The resolved config of `model`: base, then its YAML overrides, then CLI `sets`."""
        values = {**self.base, "dataset": self.dataset, "model": model}
        values = merge(values, self.overrides.get(model, {}), f"{self.source} ({model})")
        values = merge(values, sets or {}, "command line")
        return build_config(values, self.source)


def _require(ok: bool, message: str) -> None:
    """Raise BenchError(`message`) when `ok` is false."""
    if not ok:
        raise BenchError(f"invalid config: {message}")


def _plain(value: Any) -> Any:
    """Tuples to lists, recursively (JSON and weights_only pickles want plain containers)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


_FIELDS = {f.name: f for f in fields(TrainConfig)}
_HINTS = typing.get_type_hints(TrainConfig)
_RESERVED = ("dataset", "model")  # set by the file and the CLI, never by overrides


def valid_keys() -> list[str]:
    """Keys a YAML file or `--set` may use."""
    return [k for k in _FIELDS if k not in _RESERVED]


def _check_key(key: str, where: str) -> None:
    """Unknown keys are errors that name the key, so typos never pass silently."""
    if key not in _FIELDS or key in _RESERVED:
        raise BenchError(f"unknown config key {key!r} in {where}; valid keys: {', '.join(valid_keys())}")


def merge(values: dict[str, Any], updates: dict[str, Any], where: str) -> dict[str, Any]:
    """`values` updated by `updates`; `model_kwargs` merges key by key; dotted keys reach into it."""
    out = dict(values)
    for key, value in updates.items():
        top, _, sub = key.partition(".")
        _check_key(top, where)
        if sub:
            if top != "model_kwargs":
                raise BenchError(f"config key {key!r} in {where}: only model_kwargs takes dotted keys")
            out[top] = {**out.get(top, {}), sub: value}
        elif top == "model_kwargs":
            if not isinstance(value, dict):
                raise BenchError(f"config key 'model_kwargs' in {where} must be a mapping, got {value!r}")
            out[top] = {**out.get(top, {}), **value}
        else:
            out[top] = value
    return out


def build_config(values: dict[str, Any], where: str) -> TrainConfig:
    """A validated TrainConfig from plain values, coercing YAML/CLI scalars to the field types."""
    coerced = {}
    for key, value in values.items():
        if key not in _RESERVED:
            _check_key(key, where)
        coerced[key] = coerce(key, value)
    return TrainConfig(**coerced)


def coerce(key: str, value: Any) -> Any:
    """`value` converted to the declared type of field `key` (PyYAML reads `5e-4` as a string)."""
    hint = _HINTS[key]
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional, hint = True, args[0]
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null")):
        if optional:
            return None
        raise BenchError(f"invalid config: {key} must not be empty")
    origin = typing.get_origin(hint)
    try:
        if origin is tuple:
            items = value if isinstance(value, (list, tuple)) else [value]
            return tuple(int(v) for v in items)
        if hint is dict or origin is dict:
            if not isinstance(value, dict):
                raise TypeError("expected a mapping")
            return dict(value)
        if hint is bool:
            return _to_bool(value)
        if hint is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError("not an integer")
            if isinstance(value, bool):
                raise TypeError("expected an integer")
            return int(value)
        if hint is float:
            if isinstance(value, bool):
                raise TypeError("expected a number")
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        type_name = getattr(hint, "__name__", str(hint))
        raise BenchError(f"invalid config: {key} must be {type_name}, got {value!r} ({exc})") from None


def _to_bool(value: Any) -> bool:
    """YAML/CLI booleans: true/false/yes/no/1/0."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ValueError("expected true or false")


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """CLI `key=value` strings to a dict; values are parsed as YAML (`[10,5]`, `true`, `0.1`)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BenchError(f"--set expects key=value, got {pair!r}")
        try:
            out[key] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            out[key] = raw
    return out


def load_dataset_config(dataset: str, path: Path | None = None) -> DatasetConfig:
    """The packaged YAML of `dataset` (or the file at `path`), checked key by key."""
    get_dataset(dataset)  # an unknown name is a BenchError listing the valid ones
    path = Path(path) if path is not None else CONFIG_DIR / f"{dataset}.yaml"
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise BenchError(f"cannot read config {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise BenchError(f"config {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise BenchError(f"config {path} must be a mapping of keys to values")
    raw = dict(raw)
    file_dataset = raw.pop("dataset", dataset)
    if file_dataset != dataset:
        raise BenchError(f"config {path} is for dataset {file_dataset!r}, not {dataset!r}")
    models = raw.pop("models", None)
    if not models or not isinstance(models, list):
        raise BenchError(f"config {path} must list the models to train under 'models'")
    overrides = raw.pop("overrides", None) or {}
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise BenchError(f"config {path}: 'overrides' must map model names to mappings")
    stray = sorted(set(overrides) - set(models))
    if stray:
        raise BenchError(f"config {path}: overrides for {', '.join(stray)}, which 'models' does not list")
    base = merge({}, raw, str(path))
    config = DatasetConfig(dataset, tuple(str(m) for m in models), base, overrides, str(path))
    for model in config.models:
        config.for_model(model)  # validate every resolved config now, not mid-run
    return config


def configs_for(dataset: str, models: list[str] | None = None, sets: dict[str, Any] | None = None,
                path: Path | None = None) -> list[TrainConfig]:
    """Resolved configs of `models` (default: the YAML's list) with CLI `sets` applied last."""
    config = load_dataset_config(dataset, path)
    return [config.for_model(m, sets) for m in (models or list(config.models))]
