"""Runtimes and formats that compile are opt-in: plain runs leave them out, a run that names them exports
only what it loads, one session serves every size where a runtime compiles, and each row says what its
first result cost."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.records.schema import ResultRow, first_result_info
from bench.report.tables import first_result_table
from bench.run.artifacts import ensure_exported
from bench.run.config import RunConfig
from bench.run.runner import INDUCTOR_CACHE_ENV, compiler_cache
from bench.run.selection import parse_runtimes
from bench.runtimes import default_runtime_names, get_runtime, runtime_names
from bench.runtimes.eager import EagerRuntime
from export.formats import default_format_names, format_names
from export.layout import load_manifest
from export.pipeline import stale_formats
from train.registry import get_model


def test_a_run_naming_no_runtime_leaves_out_those_that_compile():
    compiling = [name for name in runtime_names() if not get_runtime(name).default]
    assert parse_runtimes("") == tuple(default_runtime_names())
    assert not set(compiling) & set(parse_runtimes(""))
    assert parse_runtimes("all") == tuple(runtime_names())
    # An alias and its runtime count once, and `all` beside a name adds nothing twice.
    assert parse_runtimes("onnx,all,onnxruntime").count("onnxruntime") == 1
    with pytest.raises(BenchError, match="unknown runtime 'tensorrt'"):
        parse_runtimes("eager,tensorrt")


def test_a_run_exports_only_the_formats_its_runtimes_load():
    assert RunConfig(runtimes=("eager", "onnxruntime"), models=("mnist-mlp",)).export_formats == ("onnx",)
    assert RunConfig(runtimes=("eager",), models=("mnist-mlp",)).export_formats == ()
    every = RunConfig(runtimes=tuple(runtime_names()), models=("mnist-mlp",)).export_formats
    assert set(every) == {get_runtime(n).export_format for n in runtime_names()} - {None}


def test_exporting_one_format_keeps_the_others_made_from_the_same_weights(mnist_mlp_results: Path,
                                                                         tmp_path: Path):
    spec = get_model("mnist-mlp")
    shutil.copytree(mnist_mlp_results / "exports", tmp_path / "exports")
    exports, model_dir = tmp_path / "exports", tmp_path / "exports" / "mnist-mlp"
    onnx_written = (model_dir / "model.onnx").stat().st_mtime_ns
    (model_dir / "model.ts").unlink()
    assert stale_formats(spec, exports, None, 0) == ("torchscript",)
    assert stale_formats(spec, exports, None, 0, ["onnx"]) == ()
    artifacts = ensure_exported(spec, exports, tmp_path / "checkpoints", 0, formats=("torchscript",))
    manifest = load_manifest(model_dir)
    assert (model_dir / "model.ts").is_file() and not artifacts.failed.get("torchscript")
    # onnx was neither redone nor lost: the same file, still in the manifest, still usable.
    assert (model_dir / "model.onnx").stat().st_mtime_ns == onnx_written
    assert manifest["formats"]["onnx"]["ok"] is True and "onnx" not in artifacts.failed
    assert artifacts.made["onnx"][0] == manifest["formats"]["onnx"]["export_time_s"]
    # Other weights make every earlier format stale: none may be loaded beside the new weights.
    assert stale_formats(spec, exports, None, 1, ["onnx"]) == ("onnx",)


def test_a_plain_export_makes_the_default_formats_only(mnist_mlp_results: Path):
    manifest = load_manifest(mnist_mlp_results / "exports" / "mnist-mlp")
    assert set(manifest["formats"]) == set(default_format_names())
    assert set(default_format_names()) <= set(format_names())


class _SharingEager(EagerRuntime):
    """Eager loaded once per model for every size, as a runtime that compiles at load is (not registered)."""

    name = "eager-shared"
    shares_session = True


def test_a_runtime_that_compiles_is_loaded_once_for_every_size(mnist_mlp_results: Path):
    import torch

    from suites.conftest import SuiteState

    config = RunConfig(models=("mnist-mlp",), runtimes=("eager",), results_dir=mnist_mlp_results,
                       reuse_exports=True, threads=1)
    state = SuiteState(config, torch.device("cpu"))
    spec = get_model("mnist-mlp")
    first, load_s, reused = state.load_timed(spec, _SharingEager())
    again, again_s, reused_again = state.load_timed(spec, _SharingEager())
    assert (reused, reused_again) == (False, True)
    assert again is first and again_s == load_s > 0
    plain, _, plain_reused = state.load_timed(spec, get_runtime("eager"))
    assert plain is not first and not plain_reused  # every other runtime loads afresh per row


def _row(runtime: str, p50_ms: float, total_s: float, batch: int = 1) -> ResultRow:
    extra = {"p50_ms": p50_ms, **first_result_info(export_s=None, export_what="none", load_s=total_s,
                                                   compile_s=None, first_call_s=0.0, reused_session=False)}
    return ResultRow("mnist-cnn", runtime, "cpu", batch, "samples", "ok", extra=extra)


def test_time_to_first_result_says_after_how_many_calls_a_faster_runtime_repays_its_start_up():
    rows = [_row("eager", 2.0, 1.0), _row("aoti", 1.0, 31.0), _row("onnxruntime", 3.0, 5.0),
            _row("torchscript", 1.0, 0.5), _row("aoti", 1.0, 40.0, batch=64)]
    table = first_result_table(rows, "cpu")
    cells = {row.cells[1]: row for row in table.rows}
    repaid = [c.name for c in table.columns].index("repaid after")
    assert cells["aoti"].cells[repaid] == pytest.approx(30.0 / 1e-3)  # 30 s extra ÷ 1 ms saved per call
    assert cells["onnxruntime"].cells[repaid] is None and "never" in cells["onnxruntime"].note
    assert cells["torchscript"].cells[repaid] is None  # ready sooner than eager: nothing to repay
    assert len(table.rows) == 4  # one row per model × runtime: its first size
    assert first_result_table([replace(rows[0], extra={"p50_ms": 2.0})], "cpu") is None
    # A session reused from an earlier size carries that size's load, and a damaged record lacks figures:
    # neither stands for the runtime's start-up.
    reused = replace(rows[1], extra={**rows[1].extra, "first_result": {
        **rows[1].extra["first_result"], "reused_session": True}})
    damaged = replace(rows[2], extra={**rows[2].extra, "first_result": {"first_call_s": None}})
    assert [r.cells[1] for r in first_result_table([rows[0], reused, damaged], "cpu").rows] == ["eager"]


def test_a_run_compiles_with_a_cold_inductor_cache_unless_the_user_chose_one(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(INDUCTOR_CACHE_ENV, raising=False)
    with compiler_cache(tmp_path):
        assert os.environ[INDUCTOR_CACHE_ENV] == str(tmp_path)
    assert INDUCTOR_CACHE_ENV not in os.environ
    # Importing torch._inductor sets the variable to its default in this process: not the user's choice.
    import torch._inductor.config  # noqa: F401
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    monkeypatch.setenv(INDUCTOR_CACHE_ENV, default_cache_dir())
    with compiler_cache(tmp_path):
        assert os.environ[INDUCTOR_CACHE_ENV] == str(tmp_path)
    assert os.environ[INDUCTOR_CACHE_ENV] == default_cache_dir()
    mine = str(tmp_path / "mine")
    monkeypatch.setenv(INDUCTOR_CACHE_ENV, mine)
    with compiler_cache(tmp_path):
        assert os.environ[INDUCTOR_CACHE_ENV] == mine
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_the_front_end_costs_the_difference_with_the_network_on_features_per_clip():
    from bench.report.tables import front_end_table

    def row(model: str, runtime: str, batch: int, p50_ms: float | None, status: str = "ok") -> ResultRow:
        return ResultRow(model, runtime, "cpu", batch, "samples", status,
                         reason="" if status == "ok" else "export failed: STFT",
                         extra={} if p50_ms is None else {"p50_ms": p50_ms})

    rows = [row("esc50-cnn", "eager", 64, 1000.0), row("esc50-wave", "eager", 64, 1320.0),
            row("esc50-cnn", "onnxruntime", 64, 500.0), row("esc50-wave", "onnxruntime", 64, None, "skipped")]
    table = front_end_table(rows, "cpu")
    by_runtime = {r.cells[1]: r for r in table.rows}
    assert by_runtime["eager"].cells[5] == pytest.approx(320.0 / 64)  # ms per clip
    assert by_runtime["eager"].cells[6] == pytest.approx(320.0 / 1320.0)
    assert "STFT" in by_runtime["onnxruntime"].note  # the runtime that could not take it says why
    assert front_end_table(rows[:1], "cpu") is None
    faster = front_end_table([row("esc50-cnn", "compile", 1, 15.0), row("esc50-wave", "compile", 1, 14.0)],
                             "cpu")
    assert "below what these rows resolve" in faster.rows[0].note


def test_a_run_naming_no_model_covers_the_reference_models_and_all_adds_the_rest():
    from bench.run.selection import parse_models
    from train.registry import default_model_names, model_names

    assert parse_models("") == tuple(default_model_names())
    assert "esc50-wave" in model_names() and "esc50-wave" not in parse_models("")
    assert parse_models("all") == tuple(model_names())
    assert parse_models("esc50-wave,all").count("esc50-wave") == 1
