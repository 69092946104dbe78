"""Checkpoints: plain dicts that load with `torch.load(path, weights_only=True)`."""

from __future__ import annotations

import platform
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from train.errors import BenchError
from train.fileio import torch_save
from train.registry import ModelSpec, get_model

CHECKPOINT_KEYS = ("model", "state_dict", "config", "metrics", "versions", "model_kwargs")


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries a checkpoint's numbers depend on."""
    import torch_geometric
    import torchaudio
    import torchvision

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "torchaudio": torchaudio.__version__,
        "torch_geometric": torch_geometric.__version__,
        "cuda": torch.version.cuda or "",
    }
    # str(): torch.__version__ is a TorchVersion, which weights_only unpickling refuses.
    return {k: str(v) for k, v in versions.items()}


def checkpoint_path(results_dir: Path, model: str) -> Path:
    """`<results>/checkpoints/<model>.pt`, where `bench export` and `bench run` look."""
    return Path(results_dir) / "checkpoints" / f"{model}.pt"


def save_checkpoint(target: Path, model: str, state_dict: dict[str, torch.Tensor], config: dict[str, Any],
                    metrics: dict[str, Any], model_kwargs: dict[str, Any]) -> Path:
    """Atomically write a checkpoint; every value but the tensors is a plain str/int/float/list/dict."""
    payload = {
        "model": model,
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
        "config": config,
        "metrics": metrics,
        "versions": library_versions(),
        "model_kwargs": model_kwargs,
    }
    return torch_save(target, payload)


class CheckpointError(BenchError):
    """A checkpoint file bench cannot use: missing, not a torch checkpoint, refused by safe loading, not what
    `bench train` writes, or not fitting its model. One line: `checkpoint <path> <problem>; <fix>`.

    `path` and `problem` (the line without path and fix) let a caller that loads several models (`bench run`)
    fail only this model's rows with the reason."""

    def __init__(self, path: Path, problem: str, fix: str) -> None:
        self.path, self.problem = Path(path), problem
        super().__init__(f"checkpoint {path} {problem}; {fix}")


def train_command(model: str | None) -> str:
    """The command that writes `model`'s checkpoint: `bench train <dataset> --model <model>` (for a model
    that loads another's weights, ModelSpec.weights_of, that other model's)."""
    try:
        spec = get_model(str(model))
    except BenchError:  # None, or a name no model has
        return "`bench train <dataset> --model <model>`"
    owner = get_model(spec.weights_of) if spec.weights_of else spec
    variant = f" --name {owner.variant}" if owner.variant else ""
    return f"`bench train {owner.dataset} --model {owner.base_name}{variant}`"


def checkpoint_owner(model: str) -> str:
    """The model whose checkpoint `model` loads: its ModelSpec.weights_of, else itself (unknown: itself)."""
    try:
        return get_model(model).weights_of or model
    except BenchError:
        return model


def retrain_hint(model: str | None) -> str:
    """What to do about an unusable checkpoint of `model`."""
    return f"retrain it with {train_command(model)}"


def read_checkpoint(path: Path, model: str | None = None, required: tuple[str, ...] = CHECKPOINT_KEYS,
                    fix: str | None = None) -> dict[str, Any]:
    """The checkpoint dict at `path`, loaded with `weights_only` (no code runs) and checked: a dict with the
    `required` keys, `model` a name (== `model` when given), `state_dict` names to tensors, the other
    entries mappings. Anything else is a CheckpointError saying what is wrong and `fix` (default: retrain)."""
    path = Path(path)
    fix = fix or retrain_hint(model)
    if path.is_dir():
        written = f"<results>/checkpoints/{checkpoint_owner(model) if model else '<model>'}.pt"
        raise CheckpointError(path, "is a directory, not a checkpoint file",
                              f"pass the .pt file {train_command(model)} writes ({written})")
    if not path.is_file():
        raise CheckpointError(path, "not found", fix)
    payload = _torch_load(path, fix)
    if not isinstance(payload, dict):
        raise CheckpointError(path, f"holds a {type(payload).__name__}, not the dict `bench train` writes",
                              fix)
    absent = [k for k in required if k not in payload]
    if absent:
        weightless = " (no 'state_dict' entry, so no weights)" if "state_dict" in absent else ""
        raise CheckpointError(path, f"lacks {', '.join(absent)}{weightless}: not written by `bench train`",
                              fix)
    owner = payload.get("model")
    if not isinstance(owner, str):
        raise CheckpointError(path, f"has a malformed 'model' entry: {owner!r}", fix)
    if model is not None and owner != checkpoint_owner(model):
        raise CheckpointError(path, f"holds weights of model {owner!r}, not {checkpoint_owner(model)!r}",
                              f"pass {checkpoint_owner(model)}'s checkpoint, or {retrain_hint(model)}")
    state = payload.get("state_dict")
    if not isinstance(state, dict) or not state or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise CheckpointError(path, "has a malformed 'state_dict' entry (expected names to tensors)", fix)
    for key in ("config", "metrics", "versions", "model_kwargs"):
        value = payload.get(key)
        if (key in payload or key in required) and not (isinstance(value, dict) and all(
                isinstance(k, str) for k in value)):
            raise CheckpointError(path, f"has a malformed {key!r} entry (expected a mapping, got "
                                        f"{_short(value)})", fix)
    return payload


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint dict at `path` (weights_only: no code runs), checked for the expected keys and types."""
    if not Path(path).exists():
        raise CheckpointError(path, "not found (no checkpoint at that path)", "run `bench train` first")
    return read_checkpoint(path)


def fit_model(path: Path, payload: dict[str, Any], seed: int | None = None,
              spec: ModelSpec | None = None) -> nn.Module:
    """The model of a checkpoint `read_checkpoint` read (`spec`, default: the registry's payload["model"]),
    built with its `model_kwargs` and its weights loaded, in eval mode; CheckpointError when they do not
    build it or do not fit it.

    The model is first built on the meta device (shapes only) and the weights checked against it, so
    model_kwargs asking for a huge model allocate nothing unless the file holds tensors that large."""
    import warnings

    from train.config import check_model_kwargs

    spec = spec or get_model(payload["model"])
    state, kwargs = payload["state_dict"], dict(payload.get("model_kwargs") or {})
    try:
        shapes = check_model_kwargs(spec, kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "copying into a meta parameter is a no-op": only shapes count
            shapes.load_state_dict(state)
        model = spec.build(seed=seed, **kwargs)
        model.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - the file's kwargs and tensors reach arbitrary model code
        detail = " ".join(str(exc).removeprefix("invalid config: ").split())[:300]
        raise CheckpointError(path, f"does not fit model {spec.name}: {detail}", retrain_hint(spec.name)) \
            from None
    return model.eval()


def model_from_checkpoint(path: Path) -> nn.Module:
    """The registered model rebuilt with the checkpoint's kwargs and weights, in eval mode."""
    return fit_model(path, load_checkpoint(path), seed=None)


def _torch_load(path: Path, fix: str) -> Any:
    """`torch.load(path, weights_only=True)`; any failure is a CheckpointError with torch's real reason."""
    import warnings

    try:
        with warnings.catch_warnings():
            # torch warns about an unusual pickle protocol before refusing the file: the error says it all.
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling a damaged file can raise almost any exception
        blocked = _blocked_import(exc, path)
        if blocked:
            raise CheckpointError(path, f"was refused: loading it would import GLOBAL {blocked}, which "
                                        "safe loading (weights_only) blocks, so nothing in it ran",
                                  f"use a checkpoint written by `bench train`, or {fix}") from None
        raise CheckpointError(path, f"is not a readable torch checkpoint ({_load_reason(exc, path)})",
                              fix) from None


def _blocked_import(exc: BaseException, path: Path) -> str:
    """The `module.name` a pickle tried to import that weights_only refused ("" when that was not it).
    torch names it for pickles it parses; where it stops at an opcode first (protocol 4's FRAME), the
    pickle's own imports are read with pickletools, which parses and never runs anything."""
    text = str(exc)
    named = re.search(r"GLOBAL ([\w.]+)", text)
    if named:
        return named.group(1)
    if "Unsupported operand" not in text:
        return ""
    return next((g for g in _pickle_imports(path) if not g.startswith(_SAFE_MODULES)), "")


_SAFE_MODULES = ("torch.", "collections.", "builtins.", "_codecs.", "numpy.")  # what tensors pickle as
_SCAN_BYTES = 1 << 20  # a pickle's imports come before its data: the first MiB names them


def _pickle_imports(path: Path) -> list[str]:
    """`module.name` of each GLOBAL / STACK_GLOBAL in the pickle at `path`, parsed up to the first error."""
    import io
    import pickletools

    with open(path, "rb") as fh:
        data = fh.read(_SCAN_BYTES)
    found, strings = [], []
    try:
        for op, arg, _pos in pickletools.genops(io.BytesIO(data)):
            if op.name in ("GLOBAL", "INST") and isinstance(arg, str):
                found.append(arg.replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str) and "UNICODE" in op.name:
                strings.append(arg)
    except Exception:  # noqa: BLE001, S110 - garbage ends the scan; what was found so far stands
        pass
    return found


def _load_reason(exc: BaseException, path: Path) -> str:
    """torch's reason for refusing a file, on one line without its advice paragraphs."""
    if path.stat().st_size == 0:
        return "the file is empty"
    if isinstance(exc, EOFError):
        return "the file ends early: truncated?"
    text = str(exc)
    operand = re.search(r"Unsupported operand \d+", text)
    if operand:
        return f"neither a torch zip archive nor a pickle torch reads: {operand.group(0)}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0].split(". This is an internal miniz error")[0] if lines else "(no message)"
    return f"{type(exc).__name__}: {first}"[:300]


def _short(value: Any) -> str:
    """A value for an error line, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
