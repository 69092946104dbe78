"""The catalogue of bad inputs: each row is (what the user gave, what bench must say).

Every row must end in exit code 2, exactly one `error: …` line containing the expected text, no
traceback (only `--debug` shows one), and no new file in the results folder nor any temporary file.
Rows are run through the real CLI (Typer's CliRunner) where a command takes the input; the few inputs
no command accepts directly (an artifact file that is not one, a missing execution provider) go through
the library call `bench run`'s suites make (`Runtime.load`), and the table says so ("library:").
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import pickle
import random
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.errors import BenchError
from tests.train_fixtures import SHARED_DATA, make_esc50


@dataclass
class Ctx:
    """Folders of one row: results (must stay free of new files), data, scratch, and a current export."""

    tmp: Path
    results: Path
    data: Path
    exports: Path  # a session-wide export of mnist-mlp: copy before changing anything in it
    monkeypatch: pytest.MonkeyPatch


Action = list[str] | Callable[[], object]  # CLI argv, or a library call that must raise BenchError


# --- argv builders ---------------------------------------------------------------------------------------

def run(*args: str) -> Callable[[Ctx], Action]:
    return lambda c: ["run", *args, "--results-dir", str(c.results)]


def train(*args: str) -> Callable[[Ctx], Action]:
    return lambda c: ["train", *args, "--data-dir", str(c.data), "--results-dir", str(c.results),
                      "--no-download", "--no-tensorboard"]


def train_config(text: str) -> Callable[[Ctx], Action]:
    def setup(c: Ctx) -> Action:
        path = c.tmp / "custom.yaml"
        path.write_text(text)
        return train("cora", "--config", str(path))(c)
    return setup


def train_on(dataset: str, make: Callable[[Path], None]) -> Callable[[Ctx], Action]:
    def setup(c: Ctx) -> Action:
        make(c.data)
        return train(dataset, "--epochs", "1")(c)
    return setup


def export_with_checkpoint(model: str, make: Callable[[Path], None]) -> Callable[[Ctx], Action]:
    def setup(c: Ctx) -> Action:
        ckpt = c.tmp / "given.pt"
        make(ckpt)
        return ["export", model, "--checkpoint", str(ckpt), "--out", str(c.results / "exports")]
    return setup


def without_cuda(argv: Callable[[Ctx], Action]) -> Callable[[Ctx], Action]:
    def setup(c: Ctx) -> Action:
        c.monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        return argv(c)
    return setup


def under_a_file(command: str) -> Callable[[Ctx], Action]:
    """An output folder below a regular file: it can never be created."""
    def setup(c: Ctx) -> Action:
        blocker = c.tmp / "a-file"
        blocker.write_text("not a folder")
        target = str(blocker / "out")
        if command == "run":
            return ["run", "--models", "mnist-mlp", "--results-dir", target]
        if command == "export":
            return ["export", "mnist-mlp", "--out", target]
        return ["train", "cora", "--data-dir", str(c.data), "--results-dir", target, "--no-download"]
    return setup


def disk_full(c: Ctx) -> Action:
    """Every atomic write fails with ENOSPC at the fsync, as a full disk would."""
    def no_space(path):
        raise OSError(errno.ENOSPC, "No space left on device")
    c.monkeypatch.setattr("train.fileio._fsync", no_space)
    return ["export", "mnist-mlp", "--out", str(c.results / "exports")]


def train_config_bytes(content: bytes) -> Callable[[Ctx], Action]:
    def setup(c: Ctx) -> Action:
        path = c.tmp / "custom.yaml"
        path.write_bytes(content)
        return train("cora", "--config", str(path))(c)
    return setup


def accuracy_with_checkpoint(make: Callable[[Path], None]) -> Callable[[Ctx], Action]:
    """`bench accuracy` over results/checkpoints/mnist-mlp.pt made by `make` (data absent: a checkpoint that
    passes would stop at MNIST, never at an export)."""
    def setup(c: Ctx) -> Action:
        ckpt = c.results / "checkpoints" / "mnist-mlp.pt"
        ckpt.parent.mkdir(parents=True)
        make(ckpt)
        return ["accuracy", "--models", "mnist-mlp", "--results-dir", str(c.results),
                "--data-dir", str(c.data), "--no-download"]
    return setup


def report_with(content: bytes) -> Callable[[Ctx], Action]:
    """`bench report` over a results folder whose one benchmark file holds `content`."""
    def setup(c: Ctx) -> Action:
        path = c.results / "benchmarks" / "20260101T000000Z_cpu.json"
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
        return ["report", "--results-dir", str(c.results)]
    return setup


RUN_FILE = Path(__file__).resolve().parents[1] / "records" / "data" / "run_schema1_cpu.json"


def run_file_with(change: Callable[[dict], None]) -> bytes:
    """The real run file of tests/records/data after `change` (edits the parsed document in place)."""
    data = json.loads(RUN_FILE.read_text())
    change(data)
    return json.dumps(data).encode()


def compare_changed(change: Callable[[dict], None]) -> Callable[[Ctx], Action]:
    """`bench compare` of the real run file against a copy edited by `change`."""
    def setup(c: Ctx) -> Action:
        path = c.tmp / "edited.json"
        path.write_bytes(run_file_with(change))
        return ["compare", str(RUN_FILE), str(path)]
    return setup


def _set(path: tuple, value) -> Callable[[dict], None]:
    """An edit setting the value at `path` (keys and list indices) of a run document."""
    def change(data: dict) -> None:
        for step in path[:-1]:
            data = data[step]
        data[path[-1]] = value
    return change


def _drop_row_keys(data: dict) -> None:
    for entry in data["benchmarks"]:
        entry["extra_info"].pop("model")
        entry["extra_info"].pop("runtime")


def report_with_training(**record) -> Callable[[Ctx], Action]:
    """`bench report` over a results folder whose mnist-mlp training record (tests/report_fixtures) has the
    `config` or `metrics` overrides in `record`."""
    def setup(c: Ctx) -> Action:
        from tests.report_fixtures import write_training

        write_training(c.results, "mnist", "mnist-mlp", **record)
        return ["report", "--results-dir", str(c.results), "--dataset", "mnist"]
    return setup


def compare_with(content: str) -> Callable[[Ctx], Action]:
    def setup(c: Ctx) -> Action:
        path = c.tmp / "other.json"
        path.write_text(content)
        return ["compare", str(path), str(path)]
    return setup


# --- library-boundary actions (Runtime.load, as the suites call it) ---------------------------------------

def load_runtime(runtime: str, file: str | None = None, content: bytes = b"", *, device: str = "cpu",
                 trust: bool = False, providers: list[str] | None = None) -> Callable[[Ctx], Action]:
    def setup(c: Ctx) -> Action:
        from bench.runtimes import get_runtime
        from train.registry import get_model

        model_dir = c.tmp / "mnist-mlp"
        shutil.copytree(c.exports / "mnist-mlp", model_dir)
        if file is not None:
            (model_dir / file).write_bytes(content)
        if providers is not None:
            c.monkeypatch.setattr("onnxruntime.get_available_providers", lambda: providers)
        return lambda: get_runtime(runtime).load(get_model("mnist-mlp"), model_dir, torch.device(device), 1,
                                                 trust=trust)
    return setup


# --- bad data -----------------------------------------------------------------------------------------------

def _mnist_copy(data: Path) -> Path:
    raw = data / "mnist" / "raw"
    raw.mkdir(parents=True)
    source = SHARED_DATA / "mnist" / "raw"
    if not source.is_dir():
        pytest.skip(f"real MNIST not found at {source}")
    for path in source.iterdir():
        shutil.copyfile(path, raw / path.name)
    return raw


def truncated_idx(data: Path) -> None:
    raw = _mnist_copy(data)
    gz = raw / "t10k-labels-idx1-ubyte.gz"
    with gzip.open(gz, "rb") as fh:
        head = fh.read(100)
    gz.unlink()
    (raw / "t10k-labels-idx1-ubyte").write_bytes(head)


def truncated_gzip(data: Path) -> None:
    gz = _mnist_copy(data) / "t10k-labels-idx1-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:200])


def bad_wav(data: Path) -> None:
    make_esc50(data)
    first = sorted((data / "esc50" / "audio").iterdir())[0]
    first.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")


def csv_without_filename(data: Path) -> None:
    make_esc50(data)
    csv_path = data / "esc50" / "meta" / "esc50.csv"
    lines = csv_path.read_text().splitlines()
    csv_path.write_text("\n".join(line.split(",", 1)[1] for line in lines) + "\n")


# --- bad checkpoints ----------------------------------------------------------------------------------------

def _real_checkpoint(path: Path, model: str = "mnist-mlp", state: dict | None = None) -> None:
    from train.checkpoint import save_checkpoint
    from train.registry import get_model

    state = state if state is not None else get_model(model).build(seed=0).state_dict()
    save_checkpoint(path, model, state, {}, {}, {})


def garbage_checkpoint(path: Path) -> None:
    path.write_bytes(b"PK\x03\x04 this is not a checkpoint")


def truncated_checkpoint(path: Path) -> None:
    _real_checkpoint(path)
    path.write_bytes(path.read_bytes()[:300])


def mlp_checkpoint(path: Path) -> None:
    _real_checkpoint(path, "mnist-mlp")


def random_bytes(path: Path) -> None:
    path.write_bytes(random.Random(0).randbytes(512))


class CallsSystem:
    """Unpickled without weights_only, this would run `os.system`: what a malicious checkpoint does."""

    def __reduce__(self):
        return (os.system, ("true",))


def pickle_bomb(protocol: int) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(pickle.dumps(CallsSystem(), protocol=protocol))


def torch_saved_bomb(path: Path) -> None:
    torch.save({"model": "mnist-mlp", "state_dict": CallsSystem()}, path)


def unbuildable_checkpoint(path: Path) -> None:
    """A real mnist-mlp checkpoint whose model_kwargs no MnistMLP can be built with."""
    from train.checkpoint import save_checkpoint
    from train.config import configs_for
    from train.registry import get_model

    (cfg,) = configs_for("mnist", ["mnist-mlp"])
    save_checkpoint(path, "mnist-mlp", get_model("mnist-mlp").build(seed=0).state_dict(), cfg.to_dict(), {},
                    {"hidden": -5})


def wrong_shape_checkpoint(path: Path) -> None:
    from train.registry import get_model

    names = get_model("mnist-mlp").build(seed=0).state_dict()
    _real_checkpoint(path, "mnist-mlp", {k: torch.zeros(3, 3) for k in names})


def slurm_without_sbatch(c: Ctx) -> Action:
    """PATH holds only this Python's folder: no sbatch, as on a laptop or CI runner."""
    c.monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    return ["run", "--models", "mnist-mlp", "--launcher", "slurm", "--partition", "gpu",
            "--results-dir", str(c.results)]


def launcher_profile(text: str) -> Callable[[Ctx], Action]:
    def setup(c: Ctx) -> Action:
        path = c.tmp / "slurm.yaml"
        path.write_text(text)
        return ["run", "--models", "mnist-mlp", "--launcher-profile", str(path), "--results-dir",
                str(c.results)]
    return setup


def merge_twice(c: Ctx) -> Action:
    """The same run file given twice: every row measured twice on one machine."""
    path = c.tmp / "run.json"
    path.write_bytes(gzip.decompress((Path(__file__).parents[1] / "records" / "data" /
                                      "run_complete_cpu.json.gz").read_bytes()))
    return ["merge", str(path), str(path), "--output", str(c.results / "merged.json")]


# --- the catalogue ------------------------------------------------------------------------------------------

CUDA_MISSING = "CUDA is not available"
BAD_INPUTS: list[tuple[str, Callable[[Ctx], Action], str]] = [
    # (input, setup returning argv or a library call, fragment of the one error line)
    ("unknown model", run("--models", "mnist-mlp,nope"),
     "unknown model 'nope'; choose one of: cora-mlp, cora-gcn, cora-sage, esc50-cnn, esc50-wave, mnist-mlp"),
    ("unknown dataset", train("imagenet"),
     "unknown dataset 'imagenet'; choose one of: cora, esc50, mnist, cifar100"),
    ("unknown runtime", run("--runtimes", "tvm"),
     "unknown runtime 'tvm'; choose one of: eager, aoti, compile, onnxruntime, onnxruntime-int8, "
     "torchscript"),
    ("unknown compile mode", run("--runtimes", "eager,compile", "--compile-mode", "fast"),
     "compile.mode 'fast' is not a torch.compile mode; choose one of: default, max-autotune"),
    ("--compile-mode without the compile runtime", run("--compile-mode", "max-autotune"),
     "--compile-mode sets the compile runtime's mode, which this run does not include"),
    ("unknown export format", lambda c: ["export", "mnist-mlp", "--formats", "all,tensorrt", "--out",
                                         str(c.results / "exports")],
     "unknown export format 'tensorrt'; choose one of: torchscript, onnx, aoti"),
    ("malformed YAML config", train_config("models: [cora-gcn\nlr: 0.1\n"), "is not valid YAML"),
    ("unknown config key in YAML", train_config("models: [cora-gcn]\nlearnign_rate: 0.1\n"),
     "unknown config key 'learnign_rate' in"),
    ("unknown config key on the command line", train("cora", "--set", "learning_rate=1"),
     "unknown config key 'learning_rate' in command line; valid keys: seed, epochs"),
    ("mistyped config value", train_config("models: [cora-gcn]\nepochs: ten\n"),
     "invalid config: epochs must be int, got 'ten'"),
    ("binary config file", train_config_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
     "is not a text file (byte 0 is not UTF-8); pass a YAML file like train/configs/<dataset>.yaml"),
    ("config naming no model", train_config("models: [[cora-gcn]]\n"),
     "must list the models to train under 'models' (their names)"),
    ("model_kwargs no model can be built with",
     train_config("models: [cora-mlp]\nmodel_kwargs: {hidden: -5}\n"),
     "invalid config: model_kwargs {'hidden': -5} do not build cora-mlp: RuntimeError: Trying to create "
     "tensor with negative dimension -5"),
    ("model_kwargs the model does not take", train_config("models: [cora-mlp]\nmodel_kwargs: {widht: 3}\n"),
     "do not build cora-mlp: TypeError: CoraMLP.__init__() got an unexpected keyword argument 'widht'"),
    ("model_kwargs value NaN", train_config("models: [cora-mlp]\nmodel_kwargs: {dropout: .nan}\n"),
     "invalid config: model_kwargs.dropout must be a finite number, string, bool or list of them, got nan"),
    ("seed beyond 64 bits (YAML string)", train_config("models: [cora-mlp]\nseed: 1e23\n"),
     "invalid config: seed must be int, got '1e23' (beyond the 64-bit range torch takes)"),
    ("seed beyond 64 bits (YAML float)", train_config("models: [cora-mlp]\nseed: 1.0e+23\n"),
     "invalid config: seed must be int, got 1e+23 (beyond the 64-bit range torch takes)"),
    ("negative seed", train_config("models: [cora-mlp]\nseed: -1\n"),
     "invalid config: seed must be an integer in [0, 2**63), got -1"),
    ("infinite learning rate", train_config("models: [cora-mlp]\nlr: .inf\n"),
     "invalid config: lr must be float, got inf (not a finite number)"),
    ("a million data-loader workers", train("cora", "--set", "num_workers=1000000"),
     "invalid config: num_workers must be at most"),
    ("zero epochs", train("cora", "--epochs", "0"), "invalid config: epochs must be positive, got 0"),
    ("negative epochs", train("cora", "--epochs", "-3"), "invalid config: epochs must be positive, got -3"),
    ("zero training batch size", train("mnist", "--set", "batch_size=0"),
     "invalid config: batch_size must be positive, got 0"),
    ("zero benchmark batch size", run("--batch-sizes", "1,0"), "--batch-sizes takes positive integers"),
    ("negative benchmark batch size", run("--batch-sizes", "-1"), "--batch-sizes takes positive integers"),
    ("zero rounds", run("--min-rounds", "0"), "--min-rounds must be an integer >= 1, got 0"),
    ("negative rounds", run("--min-rounds", "-2"), "--min-rounds must be an integer >= 1, got -2"),
    ("negative warm-up", run("--warmup", "-1"), "--warmup must be an integer >= 0, got -1"),
    ("infinite time per case", run("--max-time", "inf"),
     "--max-time must be a finite number, got inf"),
    ("unknown precision", run("--precision", "fp16"), "--precision must be one of fp32, tf32, got 'fp16'"),
    ("unknown runtime option", run("--runtime-option", "onnxruntime.arena=off"),
     "unknown option onnxruntime.arena; onnxruntime takes: onnxruntime.graph_optimization"),
    ("malformed runtime option", run("--runtime-option", "spinning=off"),
     "--runtime-option takes <runtime>.<option>=<value>, got 'spinning=off'"),
    ("unknown table format", lambda c: ["models", "--format", "xml"],
     "unknown format 'xml'; choose one of: rich, markdown, csv, json"),
    ("doctor with no time", lambda c: ["doctor", "--dry-run", "--out", str(c.results), "--budget", "0"],
     "--budget must be a positive number of seconds, got 0.0"),
    ("data dir missing", lambda c: ["train", "cora", "--data-dir", str(c.tmp / "nowhere"),
                                    "--results-dir", str(c.results), "--no-download"],
     "Cora not found under"),
    ("data dir empty", train("mnist"), "MNIST not found under"),
    ("truncated MNIST IDX", train_on("mnist", truncated_idx), "t10k-labels-idx1-ubyte has md5"),
    ("truncated MNIST gzip", train_on("mnist", truncated_gzip),
     "corrupt or incomplete (EOFError: Compressed file ended"),
    ("bad WAV", train_on("esc50", bad_wav), "1-100010-A-1.wav are corrupt or incomplete (LibsndfileError"),
    ("ESC-50 CSV without a column", train_on("esc50", csv_without_filename),
     "esc50.csv lacks column(s) filename"),
    ("corrupt checkpoint", export_with_checkpoint("mnist-mlp", garbage_checkpoint),
     "is not a readable torch checkpoint"),
    ("truncated checkpoint", export_with_checkpoint("mnist-mlp", truncated_checkpoint),
     "is not a readable torch checkpoint"),
    ("checkpoint that is a directory", lambda c: ["export", "mnist-mlp", "--checkpoint", str(c.tmp),
                                                  "--out", str(c.results / "exports")],
     "is a directory, not a checkpoint file; pass the .pt file `bench train mnist --model mnist-mlp` writes"),
    ("accuracy: checkpoint of random bytes", accuracy_with_checkpoint(random_bytes),
     "is not a readable torch checkpoint (neither a torch zip archive nor a pickle torch reads: "
     "Unsupported operand"),
    ("accuracy: pickle calling os.system", accuracy_with_checkpoint(pickle_bomb(2)),
     f"was refused: loading it would import GLOBAL {os.system.__module__}.system, which safe loading "
     "(weights_only) blocks, so nothing in it ran"),
    ("accuracy: pickle calling os.system (protocol 4)", accuracy_with_checkpoint(pickle_bomb(4)),
     f"would import GLOBAL {os.system.__module__}.system"),
    ("accuracy: torch.save'd checkpoint calling os.system", accuracy_with_checkpoint(torch_saved_bomb),
     f"would import GLOBAL {os.system.__module__}.system"),
    ("accuracy: checkpoint whose model_kwargs build nothing",
     accuracy_with_checkpoint(unbuildable_checkpoint),
     "does not fit model mnist-mlp: model_kwargs {'hidden': -5} do not build mnist-mlp: RuntimeError: "
     "Trying to create tensor with negative dimension -5"),
    ("checkpoint of another model", export_with_checkpoint("mnist-cnn", mlp_checkpoint),
     "holds weights of model 'mnist-mlp', not 'mnist-cnn'"),
    ("checkpoint of another shape", export_with_checkpoint("mnist-mlp", wrong_shape_checkpoint),
     "does not fit model mnist-mlp: Error(s) in loading state_dict for MnistMLP: size mismatch"),
    ("library: model.onnx that is not ONNX", load_runtime("onnxruntime", "model.onnx", b"not onnx"),
     "model.onnx is not a valid ONNX model"),
    ("library: model.ts that is not TorchScript (--trust)",
     load_runtime("torchscript", "model.ts", b"not torchscript", trust=True), "cannot load TorchScript"),
    ("library: model.ts bench did not write", load_runtime("torchscript", "model.ts", b"PK\x03\x04 code"),
     "it is code and your `bench export` did not write it (its sha256 is not in your trust store"),
    ("--device cuda without CUDA (run)", without_cuda(run("--device", "cuda", "--models", "mnist-mlp")),
     CUDA_MISSING),
    ("--device cuda without CUDA (train)", without_cuda(train("cora", "--device", "cuda")), CUDA_MISSING),
    ("library: execution provider not available",
     load_runtime("onnxruntime", device="cuda", providers=["CPUExecutionProvider"]),
     "CUDAExecutionProvider is not in this build (available: CPUExecutionProvider)"),
    ("compare: results of another schema",
     compare_with(json.dumps({"benchmarks": [], "machine_info": {"bench": {"schema_version": 0}}})),
     "has results schema 0; this bench reads schema 1, 2: re-run `bench run` with this version"),
    ("compare: not JSON", compare_with("{truncated"), "is not valid JSON (Expecting property name"),
    ("compare: machine_info.bench null", compare_changed(_set(("machine_info", "bench"), None)),
     "edited.json: machine_info.bench is null, expected an object; re-run `bench run` for a new file"),
    ("compare: extra_info null", compare_changed(_set(("benchmarks", 0, "extra_info"), None)),
     "edited.json: benchmarks[0].extra_info is null, expected an object"),
    ("compare: p50_ms a string", compare_changed(_set(("benchmarks", 0, "extra_info", "p50_ms"), "abc")),
     'edited.json: benchmarks[0].extra_info.p50_ms is a string ("abc"), expected a number'),
    ("compare: an outcome without its status",
     compare_changed(lambda d: d["bench"]["outcomes"][0].pop("status")),
     "edited.json: bench.outcomes[0].status is missing"),
    ("report: a benchmark file that is not UTF-8", report_with(b"\xff\xfe{}"),
     "20260101T000000Z_cpu.json is not a JSON text file (byte 0 is not UTF-8); delete it or rerun what "
     "wrote it"),
    ("report: benchmarks null", report_with(b'{"benchmarks": null}'),
     "20260101T000000Z_cpu.json is not a pytest-benchmark JSON file (no 'benchmarks' list); re-run "
     "`bench run` for a new file, or delete it (move it out of results/benchmarks/)"),
    ("report: a training record whose lr is text", report_with_training(config={"lr": "fast"}),
     'mnist-mlp.json: runs[0].config.lr is a string ("fast"), expected a number; rerun `bench train` to '
     "rewrite it, or delete it"),
    ("report: rows without model and runtime", report_with(run_file_with(_drop_row_keys)),
     "lacks extra_info model, runtime, so its row has no model/runtime/device/size; re-run `bench run`"),
    ("unwritable results dir (run)", under_a_file("run"), "Not a directory; choose a writable directory"),
    ("unwritable output dir (export)", under_a_file("export"),
     "Not a directory; choose a writable directory"),
    ("unwritable results dir (train)", under_a_file("train"), "Not a directory; choose a writable directory"),
    ("disk full while writing", disk_full, "No space left on device (earlier file left intact)"),
    ("--launcher slurm without sbatch", slurm_without_sbatch,
     "--launcher slurm needs Slurm's sbatch and srun, which are not on PATH here; run on the cluster's "
     "login node, or use --launcher local"),
    ("unknown launcher", run("--models", "mnist-mlp", "--launcher", "kubernetes"),
     "unknown launcher 'kubernetes'; choose one of: local, slurm"),
    ("a Slurm option without --launcher", run("--models", "mnist-mlp", "--partition", "gpu"),
     "partition set(s) how shards are launched; add --launcher local or --launcher slurm"),
    ("--detach with local shards", run("--models", "mnist-mlp", "--launcher", "local", "--detach"),
     "--detach leaves jobs running on a cluster; local shards run while bench waits"),
    ("launcher profile with an unknown key", launcher_profile("launcher: slurm\nqueue: gpu\n"),
     "unknown key(s) queue in launcher profile"),
    ("launcher profile: a bad value", launcher_profile("launcher: local\ntime_limit_min: soon\n"),
     "launcher setting time_limit_min must be an integer >= 1, got 'soon'"),
    ("merge: one row twice on one machine", merge_twice,
     "mnist-mlp / eager / cpu / batch 1 is in both"),
]


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.mark.parametrize(("setup", "expected"), [row[1:] for row in BAD_INPUTS],
                         ids=[row[0] for row in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(setup, expected, tmp_path, monkeypatch,
                                                         mnist_mlp_results):
    ctx = Ctx(tmp_path, tmp_path / "results", tmp_path / "data", mnist_mlp_results / "exports", monkeypatch)
    ctx.results.mkdir()
    ctx.data.mkdir()
    action = setup(ctx)
    before = _files(ctx.results)

    if callable(action):  # library boundary: the BenchError the CLI would print as one line
        with pytest.raises(BenchError) as caught:
            action()
        code, output = caught.value.exit_code, f"error: {caught.value}"
    else:
        result = CliRunner().invoke(app, action, env={"COLUMNS": "80"})
        code, output = result.exit_code, result.output

    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert code == 2, output
    assert len(errors) == 1, output
    assert expected in errors[0]
    assert "Traceback" not in output
    assert _files(ctx.results) == before, "partial output left in the results folder"
    assert not [p for p in _files(tmp_path) if p.name.endswith(".tmp")], "temporary file left behind"


def test_debug_shows_the_traceback(tmp_path):
    result = CliRunner().invoke(app, ["--debug", "run", "--models", "nope", "--results-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "Traceback" in result.output and "error: unknown model 'nope'" in result.output


def test_onnx_runtime_runs_the_checker_before_a_session(tmp_path, mnist_mlp_results, monkeypatch):
    import onnx

    from bench.runtimes import get_runtime
    from train.registry import get_model

    checked = []
    real = onnx.checker.check_model
    monkeypatch.setattr(onnx.checker, "check_model", lambda m, *a, **k: checked.append(m) or real(m, *a, **k))
    model_dir = mnist_mlp_results / "exports" / "mnist-mlp"
    get_runtime("onnxruntime").load(get_model("mnist-mlp"), model_dir, torch.device("cpu"), 1)
    assert checked == [str(model_dir / "model.onnx")]


# --- bad files bench run recovers from ------------------------------------------------------------------

TINY_RUN = ("--runtimes", "eager", "--batch-sizes", "1", "--max-time", "0.05", "--min-rounds", "3",
            "--warmup", "1", "--no-memory", "--threads", "1", "--no-paired")


def test_run_reexports_over_a_malformed_manifest_and_fails_only_the_bad_checkpoints_rows(tmp_path,
                                                                                         mnist_mlp_results):
    """A manifest that parses but is a list is stale: re-exported over (it is derived data), never a crash on
    every rerun; a checkpoint that is not one fails its model's rows with the reason, the others run."""
    from bench.records.reader import read_run
    from export.layout import load_manifest

    results = tmp_path / "results"
    shutil.copytree(mnist_mlp_results / "exports" / "mnist-mlp", results / "exports" / "mnist-mlp")
    manifest = results / "exports" / "mnist-mlp" / "manifest.json"
    manifest.write_text(json.dumps([json.loads(manifest.read_text())]))
    (results / "checkpoints").mkdir()
    garbage_checkpoint(results / "checkpoints" / "cora-mlp.pt")

    result = CliRunner().invoke(app, ["run", "--models", "mnist-mlp,cora-mlp", *TINY_RUN,
                                      "--results-dir", str(results)], env={"COLUMNS": "200"})

    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 1, result.output  # a failed row fails the run, as a failed parity does
    assert isinstance(load_manifest(manifest.parent)["formats"], dict)  # rewritten whole
    (run_file,) = (results / "benchmarks").glob("*.json")
    rows = {row.model: row for row in read_run(run_file).rows}
    assert rows["mnist-mlp"].status == "ok" and rows["mnist-mlp"].p50_ms > 0
    assert rows["cora-mlp"].status == "failed"
    assert "cora-mlp.pt is not a readable torch checkpoint (RuntimeError: PytorchStreamReader" \
        in rows["cora-mlp"].reason


def test_a_manifest_of_the_wrong_shape_is_reexported_with_a_note(tmp_path, mnist_mlp_results):
    """ensure_exported (what bench run and the suites call) treats `"formats": []` as stale and says so."""
    from bench.run.artifacts import ensure_exported
    from train.registry import get_model

    exports = tmp_path / "exports"
    shutil.copytree(mnist_mlp_results / "exports" / "mnist-mlp", exports / "mnist-mlp")
    manifest = exports / "mnist-mlp" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "formats": []}))

    artifacts = ensure_exported(get_model("mnist-mlp"), exports, tmp_path / "checkpoints")

    assert artifacts.note == (f"re-exported mnist-mlp: {manifest} is malformed "
                              "(formats is an array, not an object)")
    from export.formats import default_format_names

    assert not set(artifacts.failed) & set(default_format_names())  # each exported again and usable
    again = ensure_exported(get_model("mnist-mlp"), exports, tmp_path / "checkpoints")
    assert again.note == ""  # current now: nothing redone, nothing to say


def test_a_bad_checkpoint_is_a_checkpoint_error_bench_run_can_catch_per_model(tmp_path):
    """ensure_exported raises CheckpointError (a BenchError) naming the file and problem, writing nothing."""
    from bench.run.artifacts import CheckpointError, ensure_exported
    from train.registry import get_model

    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    pickle_bomb(2)(checkpoints / "mnist-mlp.pt")

    with pytest.raises(CheckpointError) as caught:
        ensure_exported(get_model("mnist-mlp"), tmp_path / "exports", checkpoints)

    assert caught.value.path == checkpoints / "mnist-mlp.pt"
    blocked = f"was refused: loading it would import GLOBAL {os.system.__module__}.system"
    assert caught.value.problem.startswith(blocked)
    assert isinstance(caught.value, BenchError) and caught.value.exit_code == 2
    assert "\n" not in str(caught.value) and not (tmp_path / "exports").exists()


def test_a_malicious_checkpoint_never_runs_and_torchs_advice_is_not_repeated(tmp_path):
    """Loading a pickle that calls os.system runs nothing, and the line never suggests weights_only=False."""
    marker = tmp_path / "ran"

    class TouchesMarker:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    outputs = []
    for protocol in (2, 4):
        results = tmp_path / f"results-{protocol}"
        (results / "checkpoints").mkdir(parents=True)
        bomb = pickle.dumps(TouchesMarker(), protocol=protocol)
        (results / "checkpoints" / "mnist-mlp.pt").write_bytes(bomb)
        result = CliRunner().invoke(app, ["accuracy", "--models", "mnist-mlp", "--results-dir", str(results),
                                          "--data-dir", str(tmp_path / "data"), "--no-download"])
        assert result.exit_code == 2, result.output
        outputs.append(result.output)
    assert not marker.exists()
    assert all(f"GLOBAL {os.system.__module__}.system" in out for out in outputs)
    assert not any("weights_only" in out and "False" in out for out in outputs), outputs
