"""TorchScript is code: only files this user's `bench export` wrote load without --trust, and a manifest in
the same folder cannot vouch for a swapped file (export/trust.py)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from bench.errors import BenchError
from bench.runtimes import get_runtime
from export.formats import default_format_names
from export.pipeline import is_export_current
from export.trust import TRUST_STORE_ENV, record_trusted, trust_store_path, trusted_digests
from export.util import sha256_file
from train.registry import get_model


class _Foreign(torch.nn.Module):
    """Stand-in for someone else's code: a valid TorchScript module this user never exported."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :10] * 0


def _swap_in_foreign_code(model_dir) -> str:
    """Replace model.ts with foreign TorchScript and rewrite the manifest's sha256 to match; its digest."""
    torch.jit.save(torch.jit.script(_Foreign()), str(model_dir / "model.ts"))
    digest = sha256_file(model_dir / "model.ts")
    manifest = json.loads((model_dir / "manifest.json").read_text())
    manifest["formats"]["torchscript"]["sha256"] = digest
    (model_dir / "manifest.json").write_text(json.dumps(manifest))
    return digest


def test_a_swapped_file_with_a_rewritten_manifest_does_not_load_without_trust(tmp_path, mnist_mlp_results):
    results = tmp_path / "results"
    shutil.copytree(mnist_mlp_results, results)
    model_dir = results / "exports" / "mnist-mlp"
    spec, runtime, cpu = get_model("mnist-mlp"), get_runtime("torchscript"), torch.device("cpu")
    assert runtime.load(spec, model_dir, cpu, 1).details.runtime == "torchscript"  # this user wrote it

    digest = _swap_in_foreign_code(model_dir)
    assert digest not in trusted_digests()
    refused = (r"refusing to load .*model.ts: it is code and your `bench export` did not write it .*; "
               r"re-run `bench export mnist-mlp`, or pass --trust")
    with pytest.raises(BenchError, match=refused):
        runtime.load(spec, model_dir, cpu, 1)
    # `bench run` exports again rather than taking the folder's word for it.
    assert not is_export_current(spec, results / "exports", None, 0)
    assert runtime.load(spec, model_dir, cpu, 1, trust=True).details.runtime == "torchscript"  # --trust


def test_the_store_lives_outside_the_results_folder_and_records_each_export_once(tmp_path, monkeypatch):
    store = tmp_path / "home" / "bench-trust"
    monkeypatch.setenv(TRUST_STORE_ENV, str(store))
    artifact = tmp_path / "results" / "model.ts"
    artifact.parent.mkdir()
    artifact.write_bytes(b"pretend code")
    assert trust_store_path() == store and trusted_digests() == set()
    digest = record_trusted(artifact)
    record_trusted(artifact)
    assert trusted_digests() == {digest}
    assert len(store.read_text().splitlines()) == 1


def test_an_unwritable_store_is_one_line_naming_the_variable(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(TRUST_STORE_ENV, str(blocker / "store"))  # a folder that is a file: cannot be made
    artifact = tmp_path / "model.ts"
    artifact.write_bytes(b"x")
    with pytest.raises(BenchError, match=rf"cannot record .* in the trust store .*; set \${TRUST_STORE_ENV}"):
        record_trusted(artifact)


def test_an_export_sweeps_the_half_written_files_of_a_killed_one(tmp_path):
    from export.pipeline import export_model

    model_dir = tmp_path / "exports" / "mnist-mlp"
    model_dir.mkdir(parents=True)
    dead = model_dir / ".model.onnx.99999999.k3y.tmp"  # pid beyond pid_max: its writer is gone
    dead.write_bytes(b"half an onnx file")
    export_model(get_model("mnist-mlp"), tmp_path / "exports", formats=["onnx"], fresh_process=False)
    assert not dead.exists()
    assert not list(model_dir.glob(".*.tmp"))


def test_bench_run_says_it_replaced_foreign_code(tmp_path, mnist_mlp_results):
    from bench.run.artifacts import ensure_exported

    results = tmp_path / "results"
    shutil.copytree(mnist_mlp_results, results)
    _swap_in_foreign_code(results / "exports" / "mnist-mlp")
    artifacts = ensure_exported(get_model("mnist-mlp"), results / "exports", results / "checkpoints")
    assert artifacts.note == ("re-exported mnist-mlp: replaced model.ts, which your `bench export` did not "
                              "write (not in your trust store)")
    # a fresh export of this user's own (of the default formats: opt-in ones such as aoti are not made)
    assert not set(artifacts.failed) & set(default_format_names())
    again = ensure_exported(get_model("mnist-mlp"), results / "exports", results / "checkpoints")
    assert again.note == ""  # current now: nothing to say

