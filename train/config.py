"""Typed training configs: YAML files mirroring the reports, per-model overrides, CLI `key=value` sets."""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from train.data.registry import dataset_names, get_dataset
from train.errors import BenchError
from train.registry import VARIANT_MARK, check_variant_name

if typing.TYPE_CHECKING:
    from torch import nn

    from train.registry import ModelSpec

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
SEED_LIMIT = 2**63  # seeds reach torch.manual_seed, which refuses anything beyond 64 bits (seed + seeds too)
INT64_LIMIT = 2**63  # every other int reaches torch or a DataLoader as an int64
# A DataLoader worker is a process: far more than a few per CPU only adds processes (and 10**6 would try).
WORKERS_PER_CPU = 4
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
    # Whose accuracy must reach the target: "val" (the default: no test peeking) or "test", report 003's
    # definition (the test split is then scored every epoch, and its time counted in the wall time).
    target_split: str = "val"
    num_workers: int = 0

    def __post_init__(self) -> None:
        _require(self.dataset in dataset_names(),
                 f"dataset must be one of {', '.join(dataset_names())}, got {self.dataset!r}")
        for name in ("seed", "split_seed"):
            value = getattr(self, name)
            _require(0 <= value < SEED_LIMIT, f"{name} must be an integer in [0, 2**63), got {_num(value)}")
        for name in ("epochs", "batch_size", "eval_batch_size", "step_size"):
            _require(getattr(self, name) > 0, f"{name} must be positive, got {_num(getattr(self, name))}")
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
            _require(getattr(self, name) >= 0, f"{name} must be >= 0, got {_num(getattr(self, name))}")
        workers = WORKERS_PER_CPU * (os.cpu_count() or 1)
        _require(self.num_workers <= workers,
                 f"num_workers must be at most {workers} ({WORKERS_PER_CPU} per CPU here), got "
                 f"{_num(self.num_workers)}")
        _require(self.target_split in ("val", "test"),
                 f"target_split must be val or test, got {self.target_split!r}")
        if self.target_accuracy is not None:
            _require(0 < self.target_accuracy <= 1,
                     f"target_accuracy must be in (0, 1], got {self.target_accuracy}")
        from train.registry import get_model

        # A model of another dataset is the runner's error to name (check_model lists the right ones);
        # its kwargs are of no interest then.
        if get_model(self.model).dataset == self.dataset:
            check_model_kwargs(self.model, self.model_kwargs)

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
        base = model.partition(VARIANT_MARK)[0]  # a variant (mnist-cnn@adam) starts from its model's config
        values = merge(values, self.overrides.get(base, {}), f"{self.source} ({base})")
        values = merge(values, sets or {}, "command line")
        return build_config(values, self.source)


def _require(ok: bool, message: str) -> None:
    """Raise BenchError(`message`) when `ok` is false."""
    if not ok:
        raise BenchError(f"invalid config: {message}")


def _num(value: Any) -> str:
    """A number for an error line: huge ones in short scientific form, not 24 digits."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) >= 1e15:
        return f"{value:.3g}"
    return str(value)


def _plain_kwarg(value: Any) -> bool:
    """A model_kwargs value JSON and weights_only checkpoints can hold: finite numbers, strings, lists."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_plain_kwarg(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_kwarg(v) for k, v in value.items())
    return value is None or isinstance(value, (str, int, bool))


def check_model_kwargs(model: str | ModelSpec, kwargs: dict[str, Any]) -> nn.Module:
    """`model` (a registered name, or its spec) built with `kwargs` on torch's meta device (shapes only: no
    memory, no time); BenchError naming `model_kwargs` when its builder refuses them or their weights could
    not fit in this machine's memory."""
    import torch

    from train.registry import get_model

    spec = get_model(model) if isinstance(model, str) else model  # unknown: a BenchError listing them
    model = spec.name
    for key, value in kwargs.items():
        _require(isinstance(key, str), f"model_kwargs keys must be names, got {key!r}")
        _require(_plain_kwarg(value),
                 f"model_kwargs.{key} must be a finite number, string, bool or list of them, got {value!r}")
    try:
        with warnings.catch_warnings(), torch.device("meta"):
            warnings.simplefilter("ignore")  # "zero-element tensors are a no-op": shapes are all it needs
            built = spec.build(seed=None, **kwargs)
        weight_bytes = sum(t.numel() * t.element_size() for t in built.state_dict().values())
    except Exception as exc:  # noqa: BLE001 - the user's kwargs reach arbitrary constructor code
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        raise BenchError(f"invalid config: model_kwargs {kwargs} do not build {model}: {detail}") from None
    memory = _physical_memory()
    _require(memory is None or weight_bytes <= memory,
             f"model_kwargs {kwargs} give {model} {weight_bytes / 2**30:.3g} GiB of weights, more than this "
             f"machine's {memory / 2**30 if memory else 0:.3g} GiB of memory")
    return built


def _physical_memory() -> int | None:
    """Bytes of RAM on this machine (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


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
        if not isinstance(key, str):
            raise BenchError(f"config key {key!r} in {where} is not a name; "
                             f"valid keys: {', '.join(valid_keys())}")
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
    absent = [key for key in _RESERVED if key not in values]
    if absent:
        raise BenchError(f"invalid config: {where} names no {' or '.join(absent)}")
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
            return tuple(_to_int(v) for v in items)
        if hint is dict or origin is dict:
            if not isinstance(value, dict):
                raise TypeError("expected a mapping")
            return dict(value)
        if hint is bool:
            return _to_bool(value)
        if hint is int:
            return _to_int(value)
        if hint is float:
            if isinstance(value, bool):
                raise TypeError("expected a number")
            number = float(value)
            if not math.isfinite(number):
                raise ValueError("not a finite number")
            return number
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise TypeError("expected a name")
        return str(value)
    except (TypeError, ValueError, OverflowError) as exc:
        type_name = getattr(hint, "__name__", str(hint))
        raise BenchError(f"invalid config: {key} must be {type_name}, got {value!r} ({exc})") from None


def _to_int(value: Any) -> int:
    """An int from YAML/CLI: ints, integral floats (`1.0e3`), digit strings; never a bool; int64 range."""
    if isinstance(value, bool):
        raise TypeError("expected an integer")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("not an integer")
    if not isinstance(value, (int, float, str)):
        raise TypeError("expected an integer")
    try:
        number = int(value)
    except ValueError:
        if not isinstance(value, str):
            raise
        as_float = float(value)  # `1e3`: YAML 1.1 reads exponents without a dot as strings
        if not as_float.is_integer():
            raise ValueError("not an integer") from None
        number = int(as_float)
    if abs(number) >= INT64_LIMIT:
        raise ValueError("beyond the 64-bit range torch takes")
    return number


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
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BenchError(f"cannot read config {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise BenchError(f"config {path} is not a text file (byte {exc.start} is not UTF-8); "
                         "pass a YAML file like train/configs/<dataset>.yaml") from None
    except yaml.YAMLError as exc:
        raise BenchError(f"config {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise BenchError(f"config {path} nests too deeply to be a config") from None
    if not isinstance(raw, dict):
        raise BenchError(f"config {path} must be a mapping of keys to values")
    raw = dict(raw)
    file_dataset = raw.pop("dataset", dataset)
    if file_dataset != dataset:
        raise BenchError(f"config {path} is for dataset {file_dataset!r}, not {dataset!r}")
    models = raw.pop("models", None)
    if not models or not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise BenchError(f"config {path} must list the models to train under 'models' (their names)")
    overrides = raw.pop("overrides", None) or {}
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise BenchError(f"config {path}: 'overrides' must map model names to mappings")
    stray = sorted(str(m) for m in overrides if m not in models)
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


def as_variants(configs: list[TrainConfig], name: str, overrides: dict[str, Any]) -> list[TrainConfig]:
    """`configs` with each model renamed to its trained variant <model>@<name> (own checkpoint, record and
    TensorBoard runs); `name` "auto" is made from `overrides` (optimizer=adam -> optimizer-adam)."""
    variant = auto_variant_name(overrides) if name == "auto" else check_variant_name(name)
    renamed = []
    for cfg in configs:
        base = cfg.model.partition(VARIANT_MARK)[0]
        renamed.append(dataclasses.replace(cfg, model=f"{base}{VARIANT_MARK}{variant}"))
    return renamed


def auto_variant_name(overrides: dict[str, Any]) -> str:
    """A variant name from the command line's overrides, in their order: `key-value` joined by `_`, keys
    without their `model_kwargs.` prefix, other characters as '-' (BenchError when there are none)."""
    if not overrides:
        raise BenchError("--name auto names the variant from its overrides, and there are none: add --set "
                         "key=value (or --epochs, --lr), or give the variant a name")
    parts = []
    for key, value in _flat(overrides):
        text = f"{key.removeprefix('model_kwargs.')}-{value}".lower()
        parts.append("".join(c if c.isascii() and (c.isalnum() or c in "._-") else "-" for c in text))
    return check_variant_name("_".join(parts)[:64].strip("._-") or "variant")


def _flat(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested override dicts as dotted (key, value) pairs, in order."""
    out: list[tuple[str, Any]] = []
    for key, value in values.items():
        if isinstance(value, dict):
            out += _flat(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out

