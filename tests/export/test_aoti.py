"""AOTInductor (model.pt2): one mnist-mlp export compiled once for the module (C++ compilation takes tens of
seconds), then its parity on other batch sizes, clean-interpreter reload, manifest, runtime, and the one-line
refusals: another torch, a corrupt package, untrusted code, no C++ compiler."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from bench.errors import BenchError
from bench.runtimes import RuntimeUnavailable, get_runtime
from export.formats import get_format
from export.formats.aoti import AotiFormat, compiler_missing
from export.layout import load_manifest
from export.pipeline import artifact_dir, export_model
from export.trust import is_trusted
from train.registry import get_model

REPO = Path(__file__).resolve().parents[2]
SPEC = get_model("mnist-mlp")  # the cheapest model to compile
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mnist-mlp exported to aoti only, untrained seed 0, reloaded in a clean interpreter by the pipeline."""
    if compiler_missing():
        pytest.skip(compiler_missing())
    out = tmp_path_factory.mktemp("exports")
    (result,) = export_model(SPEC, out, formats=["aoti"])
    assert result.ok, result.reason
    return artifact_dir(out, SPEC.name)


@pytest.fixture
def copy(model_dir: Path, tmp_path: Path) -> Path:
    """A copy of the export folder to damage (its model.pt2 is still this user's: same sha256)."""
    return Path(shutil.copytree(model_dir, tmp_path / SPEC.name))


def test_the_manifest_records_times_versions_compiler_and_both_reloads(model_dir: Path):
    entry = load_manifest(model_dir)["formats"]["aoti"]
    assert entry["ok"] and entry["file"] == "model.pt2" and entry["exporter"] == "torch.export + AOTInductor"
    assert entry["export_s"] > 0 and entry["compile_s"] > 0
    assert entry["export_time_s"] >= entry["export_s"] + entry["compile_s"] - 0.01  # both within save()
    assert entry["torch"] == torch.__version__
    assert entry["dynamic_threads"] is True and entry["device"] == "cpu"
    assert Path(entry["compiler"]["path"]).is_file() and entry["compiler"]["version"]
    assert entry["cpu_isa"] and entry["dynamic_shapes"] == {"image": {"0": "batch"}}
    assert entry["compile_warnings"] == []  # inductor had nothing to say about this model
    assert entry["parity"]["passed"]
    # The pipeline's clean-interpreter reload (export/reload.verify_artifacts): torch alone loads it.
    assert entry["fresh_process"]["ok"], entry["fresh_process"]
    assert entry["fresh_process"]["imports"] == "torch only (python -I)"
    assert is_trusted(model_dir / "model.pt2")  # code this user's export wrote: it loads without --trust


def test_the_package_is_compiled_as_recorded(model_dir: Path):
    """Freezing off (a TORCHINDUCTOR_FREEZING=1 in the environment must not change it unrecorded): the
    linear layers stay ATen addmm calls, not oneDNN's prepacked `_linear_pointwise`."""
    with zipfile.ZipFile(model_dir / "model.pt2") as archive:
        wrapper = "".join(archive.read(n).decode() for n in archive.namelist() if n.endswith("wrapper.cpp"))
    assert load_manifest(model_dir)["formats"]["aoti"]["freezing"] is False
    assert "aoti_torch_cpu_addmm" in wrapper and "_linear_pointwise" not in wrapper


def test_the_kernels_take_the_callers_thread_count(model_dir: Path):
    """No thread count baked in at export: inductor would write `num_threads(N)` with the exporting process's
    N into each parallel kernel (and no OpenMP at all for N = 1), whatever `--threads` says later."""
    with zipfile.ZipFile(model_dir / "model.pt2") as archive:
        kernels = "".join(archive.read(n).decode() for n in archive.namelist() if n.endswith("kernel.cpp"))
    assert "#pragma omp parallel" in kernels  # the ReLU kernel
    assert "num_threads(" not in kernels


@pytest.mark.parametrize("batch", [1, 3, 64])
def test_the_runtime_matches_eager_on_batches_unlike_the_export(model_dir: Path, batch: int):
    inputs = SPEC.example_inputs(batch, seed=batch)
    eager = get_runtime("eager").load(SPEC, model_dir, CPU, 1).run(inputs)
    session = get_runtime("aoti").load(SPEC, model_dir, CPU, 1)
    call = session.bind(inputs)
    got = session.fetch(call())
    assert got.shape == (batch, 10)
    torch.testing.assert_close(got, eager, atol=1e-5, rtol=1e-4)
    assert session.details.runtime == "aoti" and session.details.threads == 1
    assert session.details.providers[0].startswith("AOTInductor")
    assert session.details.settings["built_with_torch"] == torch.__version__


def test_the_raw_call_runs_the_package_alone(model_dir: Path):
    inputs = SPEC.example_inputs(2, seed=5)
    call, label = get_runtime("aoti").raw_call(model_dir / "model.pt2", inputs, 1)
    expected = get_runtime("aoti").load(SPEC, model_dir, CPU, 1).run(inputs)
    torch.testing.assert_close(call(), expected)
    assert "aoti_load_package" in label


def test_a_package_built_by_another_torch_is_refused_naming_both(copy: Path):
    from export.pipeline import stale_formats

    assert stale_formats(SPEC, copy.parent, None, 0, ["aoti"]) == ()
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["formats"]["aoti"]["torch"] = "2.0.0"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    expected = (f"model.pt2 was built by torch 2.0.0; this is torch {torch.__version__}: "
                "re-run `bench export mnist-mlp --formats aoti`")
    with pytest.raises(RuntimeUnavailable, match=re.escape(expected)):
        get_runtime("aoti").load(SPEC, copy, CPU, 1)
    # `bench run` exports it again rather than keep a package this torch may not load.
    assert stale_formats(SPEC, copy.parent, None, 0, ["aoti"]) == ("aoti",)


def _rewrite(package: Path, change) -> None:
    """Rebuild the zip `package` with each member's bytes passed through `change(name, data)` (None: the
    member is left out)."""
    with zipfile.ZipFile(package) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(package, "w") as archive:
        for info, data in members:
            if (changed := change(info.filename, data)) is not None:
                archive.writestr(info, changed)


@pytest.mark.parametrize("damage, message", [
    ("garbage", r"is not an AOTInductor package \(BadZipFile"),
    ("truncated", r"is not an AOTInductor package \(BadZipFile"),
    ("no metadata", r"is not an AOTInductor package \(it holds no wrapper_metadata.json\)"),
    ("broken library", r"cannot load .*model.pt2: .*; re-run `bench export mnist-mlp --formats aoti`"),
])
def test_a_corrupt_package_is_one_line(copy: Path, damage: str, message: str):
    package = copy / "model.pt2"
    if damage == "garbage":
        package.write_bytes(b"not a package " * 100)
    elif damage == "truncated":
        package.write_bytes(package.read_bytes()[: package.stat().st_size // 2])
    elif damage == "no metadata":
        _rewrite(package, lambda name, data: None if name.endswith("metadata.json") else data)
    else:
        _rewrite(package, lambda name, data: b"\x7fELF broken" if name.endswith(".so") else data)
    with pytest.raises(BenchError, match=message) as caught:
        get_runtime("aoti").load(SPEC, copy, CPU, 1, trust=True)  # trusted: the damage is what is refused
    assert "\n" not in str(caught.value)
    if damage != "broken library":  # the pipeline's in-process reload says the same
        with pytest.raises(BenchError, match=message):
            get_format("aoti").run(package, SPEC, [SPEC.example_inputs(1)])


def test_an_untrusted_package_is_refused_without_trust(copy: Path):
    with zipfile.ZipFile(copy / "model.pt2", "a") as archive:  # still a valid package, other bytes
        archive.writestr("extra/readme.txt", "someone else's build")
    runtime = get_runtime("aoti")
    with pytest.raises(BenchError, match=r"refusing to load .*model.pt2: it is code and your `bench export` "
                                         r"did not write it"):
        runtime.load(SPEC, copy, CPU, 1)
    assert runtime.load(SPEC, copy, CPU, 1, trust=True).run(SPEC.example_inputs(2)).shape == (2, 10)


def test_the_runtime_runs_on_the_cpu_only_and_says_why():
    runtime = get_runtime("aoti")
    assert not runtime.default and runtime.devices == ("cpu",)
    assert not get_format("aoti").default and get_format("aoti").is_code
    reason = runtime.unavailable_reason("cuda:0")
    assert "model.pt2 is compiled for the CPU at export" in reason
    with pytest.raises(RuntimeUnavailable, match="compiled for the CPU"):
        runtime.load(SPEC, Path("nowhere"), torch.device("cuda"), 1)


_NO_COMPILER = """
import sys
import torch
from export.formats.aoti import AotiFormat, compiler_missing
from train.registry import get_model
from pathlib import Path
print(compiler_missing())
spec = get_model("mnist-mlp")
try:
    AotiFormat().save(spec.build(), spec, spec.example_inputs(2), Path(sys.argv[1]))
except Exception as exc:
    print(type(exc).__name__, exc)
"""


def test_export_without_a_cpp_compiler_is_one_line_naming_what_to_install(tmp_path: Path):
    """A real search: PATH is an empty folder and $CXX unset, in a child that imports torch afresh (inductor
    reads $CXX when it is imported)."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("CXX", "TORCH_INDUCTOR_INSTALL_GXX")}
    env["PATH"] = str(empty)
    target = tmp_path / "model.pt2"
    proc = subprocess.run([sys.executable, "-c", _NO_COMPILER, str(target)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reason, raised = proc.stdout.strip().splitlines()
    assert reason == ("aoti needs a C++ compiler to export (torch's inductor looks for $CXX (unset), else "
                      "g++, and found none on PATH); install one (apt install g++) or set $CXX before "
                      "starting, or leave aoti out of --formats/--runtimes")
    assert raised == f"CompilerMissing {reason}"  # save says the same, before any work
    assert not target.exists() and not list(tmp_path.glob(".model.pt2.*"))
    assert AotiFormat().unavailable_reason() == ""  # here, with PATH as it is, there is one
