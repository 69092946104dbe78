"""Reload exported artifacts in a fresh interpreter that imports torch and each format's `load_needs` only."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from export.cases import parity_cases, stack_outputs
from export.checkpoint import load_weights
from export.formats import ExportFormat, default_format_names, format_names, get_format
from export.layout import WEIGHTS_FILE, load_manifest
from export.parity import DEFAULT_ATOL, DEFAULT_RTOL, Parity, compare_outputs, quantized_tolerance
from train.fileio import torch_save
from train.registry import ModelSpec, get_model

# Modules the child must never have imported: an artifact that needs them is not self-contained.
FORBIDDEN_MODULES = ("torch_geometric", "torch_sparse", "torch_scatter", "train", "bench", "export")

# The child program: it imports torch and what each format's `load_needs` names, then runs each format's
# `reload_source` (export/formats/). Nothing of this project is importable there (python -I, scratch cwd).
_CHILD = r"""
import importlib, sys, warnings
warnings.filterwarnings("ignore")
import torch

def first_line(exc):
    lines = [l.strip() for l in str(exc).splitlines() if l.strip()]
    return type(exc).__name__ + ": " + (lines[0] if lines else "(no message)")

payload = torch.load(sys.argv[1], weights_only=True)
runners = {}
for fmt, spec in payload["formats"].items():
    scope = {"torch": torch}
    for name in spec["needs"]:
        scope[name] = importlib.import_module(name)
    exec(spec["source"], scope)
    runners[fmt] = scope["run"]
results = {}
for job in payload["jobs"]:
    results[job["key"]] = {}
    for fmt, path in job["artifacts"].items():
        try:
            results[job["key"]][fmt] = {"outputs": runners[fmt](path, job["input_names"], job["cases"])}
        except Exception as exc:
            results[job["key"]][fmt] = {"error": first_line(exc)}
imported = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[3].split(",")))
torch.save({"results": results, "imported": imported}, sys.argv[2])
"""


@dataclass(frozen=True)
class FreshReload:
    """One artifact reloaded in a fresh process: its parity against eager, or why it did not run."""

    model: str
    format: str
    parity: Parity | None
    error: str  # "" when it reloaded and ran

    @property
    def ok(self) -> bool:
        """Reloaded, ran, and matched eager within tolerance."""
        return not self.error and self.parity is not None and self.parity.passed


def verify_in_fresh_process(*model_dirs: Path, timeout_s: float = 600.0) -> list[FreshReload]:
    """Reload the default formats' artifacts (model.ts / model.onnx) of each export folder in ONE child
    process and compare to eager."""
    manifests = [(load_manifest(d), Path(d)) for d in model_dirs]
    items = [(get_model(m["model"]), d, m.get("model_kwargs") or {}) for m, d in manifests]
    return verify_artifacts(items, default_format_names(), timeout_s=timeout_s)


def verify_artifacts(
    items: Sequence[tuple[ModelSpec, Path, dict]],
    formats: Sequence[str] | None = None,
    *,
    timeout_s: float = 600.0,
) -> list[FreshReload]:
    """As `verify_in_fresh_process`, for (spec, folder, model_kwargs); `formats` limits what is loaded."""
    wanted = [get_format(name) for name in (formats if formats is not None else format_names())]
    jobs, expected = [], {}
    for spec, model_dir, model_kwargs in items:
        cases, checked_on = parity_cases(spec)
        present = [f for f in wanted if (model_dir / f.artifact).is_file()]
        # Absolute: the child runs in a scratch directory, where a relative results folder means nothing.
        artifacts = {f.name: str((model_dir / f.artifact).resolve()) for f in present}
        jobs.append(
            {"key": str(model_dir), "input_names": spec.input_names, "cases": cases, "artifacts": artifacts}
        )
        expected[str(model_dir)] = (
            spec,
            _eager_outputs(spec, model_dir, model_kwargs, cases),
            checked_on,
            artifacts,
        )
    child = _run_child(jobs, wanted, timeout_s)
    return [
        _judge(spec, fmt, child, key, reference, checked_on, fmt.name in artifacts)
        for key, (spec, reference, checked_on, artifacts) in expected.items()
        for fmt in wanted
    ]


def _eager_outputs(
    spec: ModelSpec, model_dir: Path, model_kwargs: dict, cases: list[tuple[torch.Tensor, ...]]
) -> torch.Tensor:
    """Eager outputs on `cases`, from the registry model with the export's weights.pt loaded."""
    model = load_weights(spec, model_dir / WEIGHTS_FILE, model_kwargs)
    with torch.inference_mode():
        return stack_outputs([model(*case) for case in cases])


def _run_child(jobs: list[dict], formats: Sequence[ExportFormat], timeout_s: float) -> dict:
    """Run the child program on `jobs`; returns {'results', 'imported'} or {'error': text}."""
    runners = {f.name: {"source": f.reload_source, "needs": list(f.load_needs)} for f in formats}
    with tempfile.TemporaryDirectory(prefix="bench-reload-") as tmp:
        jobs_path, out_path = Path(tmp) / "jobs.pt", Path(tmp) / "outputs.pt"
        torch_save(jobs_path, {"formats": runners, "jobs": jobs})
        # -I: isolated mode (no cwd on sys.path, no PYTHON* variables, no user site).
        command = [
            sys.executable,
            "-I",
            "-c",
            _CHILD,
            str(jobs_path),
            str(out_path),
            ",".join(FORBIDDEN_MODULES),
        ]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False,
                                  cwd=tmp)
        except subprocess.TimeoutExpired:
            return {"error": f"fresh process timed out after {timeout_s:.0f} s"}
        if proc.returncode != 0 or not out_path.is_file():
            tail = [line for line in proc.stderr.splitlines() if line.strip()][-1:] or ["(no stderr)"]
            return {"error": f"fresh process exited {proc.returncode}: {tail[0]}"}
        return torch.load(out_path, weights_only=True)


def _judge(spec: ModelSpec, fmt: ExportFormat, child: dict, key: str, reference: torch.Tensor,
           checked_on: str, present: bool) -> FreshReload:
    """One FreshReload from the child's answer for (`key`, `fmt`)."""
    if not present:
        return FreshReload(spec.name, fmt.name, None, f"no {fmt.artifact} to reload")
    if "error" in child:
        return FreshReload(spec.name, fmt.name, None, child["error"])
    if child["imported"]:
        return FreshReload(spec.name, fmt.name, None,
                           f"fresh process imported {', '.join(child['imported'])}")
    answer = child["results"][key][fmt.name]
    if "error" in answer:
        return FreshReload(spec.name, fmt.name, None, answer["error"])
    atol, rtol = quantized_tolerance(reference) if fmt.quantized else (DEFAULT_ATOL, DEFAULT_RTOL)
    try:
        parity = compare_outputs(
            reference,
            stack_outputs(answer["outputs"]),
            atol=atol,
            rtol=rtol,
            checked_on=f"{checked_on} (fresh process)",
        )
    except ValueError as exc:
        return FreshReload(spec.name, fmt.name, None, str(exc))
    return FreshReload(spec.name, fmt.name, parity, "")
