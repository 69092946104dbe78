"""Every registered model to TorchScript and ONNX: files, parity on other sizes, reloads, manifest, CLI."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import onnx
import pytest
import torch
from torch import nn
from torch_geometric.nn import GCNConv
from typer.testing import CliRunner

from bench.cli import app
from export.checkpoint import export_problem
from export.formats import default_format_names
from export.formats import torchscript as torchscript_format
from export.formats.onnx_model import DYNAMO_EXPORTER, LEGACY_EXPORTER
from export.formats.torchscript import device_constants, load_torchscript, quiet_jit
from export.parity import DEFAULT_ATOL, DEFAULT_RTOL, compare_outputs
from export.pipeline import (
    ExportResult,
    artifact_dir,
    export_model,
    is_export_current,
    load_manifest,
)
from export.reload import verify_in_fresh_process
from train.errors import BenchError
from train.fileio import torch_save, write_bytes
from train.registry import ModelSpec, get_model, model_names

MODELS = model_names()
FORMATS = default_format_names()  # what `bench export` makes unasked (aoti: tests/export/test_aoti.py)
FILES = ("weights.pt", "model.ts", "model.onnx", "manifest.json")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[ExportResult]]]:
    """Every model exported once, untrained seed 0 (the clean-interpreter reload is checked in one go)."""
    out = tmp_path_factory.mktemp("exports")
    return out, {name: export_model(get_model(name), out, fresh_process=False) for name in MODELS}


@pytest.fixture(scope="module")
def fresh(exported, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """All eight models' artifacts, plus a deliberately broken copy, reloaded in ONE clean child process."""
    out, _ = exported
    broken = tmp_path_factory.mktemp("broken") / "mnist-mlp"
    shutil.copytree(artifact_dir(out, "mnist-mlp"), broken)
    (broken / "model.ts").write_bytes(b"not torchscript")
    (broken / "model.onnx").write_bytes(b"not onnx")
    reloads = verify_in_fresh_process(*(artifact_dir(out, n) for n in MODELS), broken)
    return {
        "ok": {(r.model, r.format): r for r in reloads[: len(MODELS) * len(FORMATS)]},
        "broken": reloads[len(MODELS) * len(FORMATS) :],
    }


@pytest.mark.parametrize("name", MODELS)
def test_both_formats_match_eager_on_sizes_unlike_the_export(exported, name: str) -> None:
    out, results = exported
    assert [r.format for r in results[name]] == list(FORMATS)
    example = load_manifest(artifact_dir(out, name))["formats"]["onnx"]["export_example"]
    for r in results[name]:
        assert r.ok and r.reason == "", f"{name} {r.format}: {r.reason}"
        assert r.path is not None and r.path.is_file() and r.size_bytes == r.path.stat().st_size
        assert r.export_time_s is not None and r.export_time_s > 0
        p = r.parity
        assert p is not None and p.passed
        assert p.max_abs <= DEFAULT_ATOL and p.argmax_agreement == 1.0
        assert (p.atol, p.rtol) == (DEFAULT_ATOL, DEFAULT_RTOL)
        # Checked on other sizes than the capture: a size baked into a trace or export would fail.
        assert example not in p.checked_on and p.checked_on
    assert sorted(p.name for p in artifact_dir(out, name).iterdir()) == sorted(FILES)


@pytest.mark.parametrize("name", MODELS)
def test_artifacts_reload_in_a_fresh_process(fresh, name: str) -> None:
    for fmt in FORMATS:
        reload = fresh["ok"][(name, fmt)]
        assert reload.ok, f"{name} {fmt}: {reload.error or reload.parity}"
        assert "fresh process" in reload.parity.checked_on


def test_fresh_process_reports_broken_artifacts(fresh) -> None:
    broken = {r.format: r for r in fresh["broken"]}
    assert set(broken) == set(FORMATS)
    assert not any(r.ok for r in broken.values())
    assert all(r.error for r in broken.values())


@pytest.mark.parametrize("name", MODELS)
def test_manifest_records_source_versions_files_and_parity(exported, name: str) -> None:
    out, _ = exported
    model_dir = artifact_dir(out, name)
    m = load_manifest(model_dir)
    assert m["schema_version"] == 1 and m["model"] == name and m["source"] == "untrained, seed 0"
    assert {"torch", "onnx", "onnxruntime", "torch_geometric"} <= set(m["versions"])
    assert m["weights"]["file"] == "weights.pt"
    state = torch.load(model_dir / "weights.pt", weights_only=True)
    get_model(name).build(seed=0).load_state_dict(state)  # loads strictly into the registry model
    for fmt in FORMATS:
        entry = m["formats"][fmt]
        assert entry["ok"] and entry["reason"] == ""
        assert entry["size_bytes"] == (model_dir / entry["file"]).stat().st_size
        assert len(entry["sha256"]) == 64 and entry["export_time_s"] > 0
        assert entry["parity"]["passed"] and entry["parity"]["checked_on"]
        assert entry["exporter"]
    ts, ox = m["formats"]["torchscript"], m["formats"]["onnx"]
    assert ts["method"] in ("scripted", "traced") and "freeze" in ts["load_recipe"]
    if ts["method"] == "traced":
        assert ts["exporter_reason"], "a trace must say why scripting was not used"
    assert ox["opset"] >= 18


@pytest.mark.parametrize("name", MODELS)
def test_onnx_inputs_keep_their_dynamic_axes(exported, name: str) -> None:
    out, _ = exported
    proto = onnx.load(str(artifact_dir(out, name) / "model.onnx"))
    shapes = {i.name: i.type.tensor_type.shape.dim for i in proto.graph.input}
    dims = {name: [d.dim_param or d.dim_value for d in shape] for name, shape in shapes.items()}
    for t in get_model(name).inputs:
        assert dims[t.name] == list(t.shape)  # symbolic names ('batch', 'num_nodes', 'num_edges') survive


def test_exporters_used(exported) -> None:
    """Pins what was verified: torch.export handles all eight; only PyG's GCN needs a trace (PyG #8867)."""
    out, _ = exported
    manifests = {n: load_manifest(artifact_dir(out, n)) for n in MODELS}
    assert {n: m["formats"]["onnx"]["exporter"] for n, m in manifests.items()} == dict.fromkeys(
        MODELS, DYNAMO_EXPORTER
    )
    traced = [n for n, m in manifests.items() if m["formats"]["torchscript"]["method"] == "traced"]
    assert traced == ["cora-gcn"]


@pytest.mark.parametrize("name", MODELS)
def test_torchscript_files_pin_no_device(exported, name: str) -> None:
    """A trace bakes `device=cpu` into PyG's self-loop code; the export rewrites it so CUDA inputs work."""
    out, _ = exported
    with quiet_jit():
        module = torch.jit.load(str(artifact_dir(out, name) / "model.ts"))
    assert device_constants(module) == 0


@pytest.mark.parametrize("name", MODELS)
def test_torchscript_follows_its_inputs_to_another_device(exported, name: str) -> None:
    """The meta device stands in for CUDA on CPU-only CI: an unpatched GCN trace fails here with
    'Tensor on device cpu is not on the expected device meta', exactly as it would on CUDA."""
    import torch.fx.experimental._config as fx_config

    out, _ = exported
    spec = get_model(name)
    with quiet_jit():
        module = torch.jit.load(str(artifact_dir(out, name) / "model.ts"), map_location="meta")
    inputs = [t.to("meta") for t in spec.example_inputs(60 if spec.is_graph else 3, seed=3)]
    # PyG's self-loop removal uses a boolean mask (nonzero), which meta tensors refuse unless told to guess.
    with fx_config.patch(meta_nonzero_assume_all_nonzero=True):
        result = module(*inputs)
    assert result.device.type == "meta" and tuple(result.shape) == (inputs[0].shape[0], spec.num_classes)


@pytest.mark.cuda
@pytest.mark.parametrize("name", ["cora-gcn", "cora-sage", "cifar100-bottleneck"])
def test_torchscript_runs_on_cuda(exported, name: str) -> None:
    out, _ = exported
    spec, device = get_model(name), torch.device("cuda")
    inputs = tuple(t.to(device) for t in spec.example_inputs(300 if spec.is_graph else 4, seed=5))
    module = load_torchscript(artifact_dir(out, name) / "model.ts", device)
    eager = get_model(name).build(seed=0)
    eager.load_state_dict(torch.load(artifact_dir(out, name) / "weights.pt", weights_only=True))
    with torch.inference_mode():
        got, want = module(*inputs), eager.to(device)(*inputs)
    # CUDA convolutions may use TF32: a looser bound than the CPU parity, still far below a real bug.
    assert compare_outputs(want, got, atol=1e-2, rtol=1e-2, checked_on="cuda").passed


def test_is_export_current(exported, tmp_path: Path) -> None:
    out, _ = exported
    spec = get_model("mnist-mlp")
    assert is_export_current(spec, out, None, 0)
    assert not is_export_current(spec, out, None, 1)  # other seed: other weights
    assert not is_export_current(spec, tmp_path, None, 0)  # nothing there
    copy = tmp_path / "copy"
    shutil.copytree(artifact_dir(out, "mnist-mlp"), artifact_dir(copy, "mnist-mlp"))
    assert is_export_current(spec, copy, None, 0)
    with open(artifact_dir(copy, "mnist-mlp") / "model.onnx", "ab") as fh:
        fh.write(b"\0")  # a changed byte no longer matches the recorded sha256
    assert not is_export_current(spec, copy, None, 0)


def test_registry_models_build_no_cached_gcn() -> None:
    """GCNConv(cached=True) keeps the first graph's normalisation: exports would be silently wrong."""
    for name in MODELS:
        model = get_model(name).build(seed=0)
        assert not [m for m in model.modules() if isinstance(m, GCNConv) and m.cached], name
        assert export_problem(model) == ""


class _CachedGCN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = GCNConv(1433, 7, cached=True)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.conv(x, edge_index)


def test_a_cached_gcn_is_refused_before_export(tmp_path: Path) -> None:
    spec = ModelSpec("cached-gcn", "cora", 7, _CachedGCN, get_model("cora-gcn").inputs, is_graph=True)
    results = export_model(spec, tmp_path, fresh_process=False)
    assert [r.ok for r in results] == [False, False]
    assert all("cached=True" in r.reason for r in results)
    assert not (artifact_dir(tmp_path, "cached-gcn") / "model.onnx").exists()
    assert not load_manifest(artifact_dir(tmp_path, "cached-gcn"))["formats"]["onnx"]["ok"]


def _checkpoint(path: Path, model: str, state: dict, **extra) -> Path:
    return torch_save(path, {"model": model, "state_dict": state, **extra})


def test_checkpoint_weights_are_exported_and_tracked(tmp_path: Path) -> None:
    spec = get_model("mnist-mlp")
    trained = spec.build(seed=7).state_dict()
    ckpt = _checkpoint(tmp_path / "mnist-mlp.pt", "mnist-mlp", trained, model_kwargs={})
    out = tmp_path / "exports"
    [result] = export_model(spec, out, formats=("torchscript",), checkpoint=ckpt, fresh_process=False)
    assert result.ok, result.reason
    manifest = load_manifest(artifact_dir(out, "mnist-mlp"))
    assert manifest["source"] == f"checkpoint {ckpt.resolve()}"
    saved = torch.load(artifact_dir(out, "mnist-mlp") / "weights.pt", weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in trained.items())
    assert not is_export_current(spec, out, ckpt, 0)  # onnx was not exported
    _checkpoint(ckpt, "mnist-mlp", spec.build(seed=8).state_dict())
    assert not is_export_current(spec, out, ckpt, 0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        (b"definitely not a checkpoint", "not a readable torch checkpoint"),
        ("truncated", "not a readable torch checkpoint"),
        ("other-model", "holds weights of model 'mnist-cnn', not 'mnist-mlp'"),
        ("wrong-shapes", "does not fit model mnist-mlp"),
        ("no-state-dict", "no 'state_dict'"),
    ],
)
def test_bad_checkpoints_are_one_line_errors(tmp_path: Path, content, message: str) -> None:
    path = tmp_path / "ckpt.pt"
    cnn_state = get_model("mnist-cnn").build(seed=0).state_dict()
    if isinstance(content, bytes):
        write_bytes(path, content)
    elif content == "truncated":
        _checkpoint(path, "mnist-mlp", get_model("mnist-mlp").build(seed=0).state_dict())
        path.write_bytes(path.read_bytes()[:2000])
    elif content == "other-model":
        _checkpoint(path, "mnist-cnn", cnn_state)
    elif content == "wrong-shapes":
        _checkpoint(path, "mnist-mlp", cnn_state)
    elif content == "no-state-dict":
        torch_save(path, {"model": "mnist-mlp"})
    with pytest.raises(BenchError, match=message) as info:
        export_model(get_model("mnist-mlp"), tmp_path / "out", checkpoint=path, fresh_process=False)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()  # nothing written before the checkpoint was accepted


def test_one_failing_format_does_not_stop_the_other_and_onnx_falls_back(tmp_path: Path, monkeypatch) -> None:
    def broken_torchscript(*args, **kwargs):
        raise RuntimeError("scripting exploded")

    def broken_dynamo(*args, **kwargs):
        raise RuntimeError("torch.export cannot capture this")

    monkeypatch.setattr("export.formats.torchscript.save_torchscript", broken_torchscript)
    monkeypatch.setattr("export.formats.onnx_model._export_dynamo", broken_dynamo)
    ts, ox = export_model(get_model("mnist-mlp"), tmp_path, fresh_process=False)
    assert not ts.ok and ts.reason == "export failed: RuntimeError: scripting exploded" and ts.path is None
    assert ox.ok and ox.exporter == LEGACY_EXPORTER and ox.parity.passed
    entry = load_manifest(artifact_dir(tmp_path, "mnist-mlp"))["formats"]["onnx"]
    assert entry["exporter_reason"] == "RuntimeError: torch.export cannot capture this"
    assert entry["opset"] >= 18


def test_an_artifact_that_misses_parity_is_failed_and_set_aside(tmp_path: Path, monkeypatch) -> None:
    real_save = torchscript_format.save_torchscript

    def save_with_other_weights(model, example, path):
        wrong = get_model("mnist-mlp").build(seed=99)
        return real_save(wrong, example, path)

    monkeypatch.setattr("export.formats.torchscript.save_torchscript", save_with_other_weights)
    [ts] = export_model(get_model("mnist-mlp"), tmp_path, formats=["torchscript"], fresh_process=False)
    assert not ts.ok and ts.reason.startswith("parity failed on batch 1, 3, 5")
    assert ts.parity is not None and not ts.parity.passed
    model_dir = artifact_dir(tmp_path, "mnist-mlp")
    assert not (model_dir / "model.ts").exists() and (model_dir / "model.ts.rejected").exists()


def test_compare_outputs_figures() -> None:
    ref = torch.tensor([[1.0, 2.0], [3.0, 1.0]])
    same = compare_outputs(ref, ref.clone(), atol=1e-4, rtol=1e-3, checked_on="x")
    assert same.passed and same.max_abs == 0 and same.max_rel == 0 and same.argmax_agreement == 1.0
    close = compare_outputs(ref, ref + 1e-4, atol=1e-4, rtol=1e-3, checked_on="x")
    assert close.passed and math.isclose(close.max_rel, 1e-4, rel_tol=1e-2)
    swapped = torch.tensor([[2.0, 1.0], [3.0, 1.0]])
    flipped = compare_outputs(ref, swapped, atol=1e-4, rtol=1e-3, checked_on="x")
    assert not flipped.passed and flipped.max_abs == 1.0 and flipped.argmax_agreement == 0.5
    nan = compare_outputs(ref, ref * float("nan"), atol=1e-4, rtol=1e-3, checked_on="x")
    assert not nan.passed and json.dumps(nan.as_dict(), allow_nan=False)
    with pytest.raises(ValueError, match="shape"):
        compare_outputs(ref, ref[:1], atol=1e-4, rtol=1e-3, checked_on="x")


def test_cli_export_writes_files_and_prints_the_table(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["export", "mnist-mlp", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "mnist-mlp").iterdir()) == sorted(FILES)
    for text in ("Exports: parity against eager", "mnist-mlp", "torchscript", "onnx", "batch 1, 3, 5"):
        assert text in result.stdout
    manifest = load_manifest(tmp_path / "mnist-mlp")
    # The CLI also reloads each artifact in a clean interpreter.
    assert all(manifest["formats"][f]["fresh_process"]["ok"] for f in FORMATS)


def test_cli_exits_1_when_an_export_fails(tmp_path: Path, monkeypatch) -> None:
    failed = ExportResult("mnist-mlp", "onnx", False, None, None, None, None, "export failed: boom", "x")
    monkeypatch.setattr("export.pipeline.export_model", lambda *a, **k: [failed])
    result = CliRunner().invoke(app, ["export", "mnist-mlp", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "FAILED" in result.stdout and "boom" in result.stdout


def test_cli_unknown_model_exits_2_listing_valid_names(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["export", "resnet-9000", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown model 'resnet-9000'" in result.output and "cora-gcn" in result.output


def test_cli_refuses_one_checkpoint_for_all_models(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["export", "all", "--checkpoint", str(tmp_path / "c.pt")])
    assert result.exit_code == 2 and "--checkpoint" in result.output
