"""RunConfig: defined and validated once, handed to the suite whole (JSON) or built from --bench-set."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.run.config import RunConfig
from bench.run.runner import suites_dir


def test_round_trip_through_json_is_identical(tmp_path):
    config = RunConfig(models=("mnist-mlp", "cora-gcn"), runtimes=("eager",), batch_sizes=(1, 8),
                       results_dir=tmp_path, threads=1, warmup=3, max_time_s=0.2, memory=False)
    path = config.write(tmp_path / "run.json")
    again = RunConfig.read(path)
    assert again == RunConfig.from_dict(json.loads(path.read_text()))
    assert again.models == config.models and again.batch_sizes == (1, 8)
    assert again.results_dir == tmp_path.resolve() and again.stability_budget_s == 0.2


@pytest.mark.parametrize(("values", "message"), [
    ({"max_time_s": float("inf")}, "--max-time must be a positive, finite number of seconds, got inf"),
    ({"stability_budget_s": float("nan")}, "--stability-budget must be a positive, finite number"),
    ({"max_time_s": 0}, "--max-time must be a positive, finite number of seconds, got 0"),
    ({"threads": 0}, "--threads must be an integer >= 1, got 0"),
    ({"warmup": 1.5}, "--warmup must be an integer >= 0, got 1.5"),
    ({"min_rounds": True}, "--min-rounds must be an integer >= 1, got True"),
    ({"models": ("nope",)}, "unknown model 'nope'"),
    ({"device": "tpu"}, "unknown device 'tpu'"),
    ({"colour": "red"}, "unknown key(s) colour in run config; valid keys: device, models,"),
])
def test_invalid_values_are_refused_with_the_option_named(values, message):
    with pytest.raises(BenchError) as caught:
        RunConfig.from_dict(values)
    assert str(caught.value).startswith(message), str(caught.value)


def test_settings_are_typed_per_field():
    config = RunConfig.from_settings(["models=mnist-mlp", "batch_sizes=2,4", "memory=false", "threads=1",
                                      "stability_budget_s=0.25", "device=cpu"])
    assert config.models == ("mnist-mlp",) and config.batch_sizes == (2, 4)
    assert config.memory is False and config.threads == 1 and config.stability_budget_s == 0.25
    for bad, message in (("memory=maybe", "takes true or false"), ("threads=two", "takes a number"),
                         ("speed=11", "key=value with a key among")):
        with pytest.raises(BenchError, match=message):
            RunConfig.from_settings([bad])


def test_the_suite_runs_directly_from_bench_set_options(mnist_mlp_results, tmp_path):
    """`pytest suites/ --benchmark-only --bench-set ...`: the same RunConfig, no `bench run` involved."""
    out = tmp_path / "direct.json"
    settings = ["models=mnist-mlp", "runtimes=eager", "batch_sizes=1", f"results_dir={mnist_mlp_results}",
                "memory=false", "threads=1", "warmup=1"]
    command = [sys.executable, "-m", "pytest", str(suites_dir()), "--benchmark-only",
               f"--benchmark-json={out}", "--benchmark-max-time=0.01", "--benchmark-min-rounds=2",
               "-p", "no:cacheprovider", "-q"]
    command += [arg for setting in settings for arg in ("--bench-set", setting)]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:]
    data = json.loads(out.read_text())
    (row,) = data["benchmarks"]
    assert row["extra_info"]["model"] == "mnist-mlp" and row["extra_info"]["threads"] == 1
    assert data["bench"]["suite"]["exports"] == str(Path(mnist_mlp_results, "exports").resolve())


def test_the_suite_refuses_a_bad_config_before_collecting(tmp_path):
    bad = tmp_path / "run.json"
    bad.write_text(json.dumps({"max_time_s": "fast"}))
    command = [sys.executable, "-m", "pytest", str(suites_dir()), "--benchmark-only", f"--bench-config={bad}",
               "-p", "no:cacheprovider", "-q"]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 4  # pytest's usage error
    assert "--max-time must be a positive, finite number of seconds, got fast" in proc.stderr


def test_runtime_options_are_resolved_by_the_runtime_and_checked(tmp_path):
    config = RunConfig(runtimes=("eager", "onnxruntime"), results_dir=tmp_path,
                       runtime_options={"onnxruntime": {"intra_op_spinning": "off"}})
    assert config.options_for("onnxruntime") == {"graph_optimization": "all", "intra_op_spinning": False}
    assert config.options_for("eager") == {}
    assert RunConfig.read(config.write(tmp_path / "run.json")) == config
    for options, message in (
        ({"onnxruntime": {"threads": "4"}}, "unknown option onnxruntime.threads; onnxruntime takes: "
                                            "onnxruntime.graph_optimization, onnxruntime.intra_op_spinning"),
        ({"torchscript": {"x": "1"}}, "--runtime-option for torchscript, which this run does not include"),
        ({"onnxruntime": {"intra_op_spinning": "maybe"}}, "intra_op_spinning takes true or false"),
    ):
        with pytest.raises(BenchError, match=message):
            RunConfig(runtimes=("eager", "onnxruntime"), runtime_options=options)


def test_onnxruntime_reports_the_settings_its_session_really_uses(mnist_mlp_results):
    import torch

    from bench.runtimes import get_runtime
    from train.registry import get_model

    runtime = get_runtime("onnxruntime")
    session = runtime.load(get_model("mnist-mlp"), mnist_mlp_results / "exports" / "mnist-mlp",
                           torch.device("cpu"), 2,
                           options=runtime.resolve_options({"graph_optimization": "basic",
                                                            "intra_op_spinning": "false"}))
    assert session.details.settings == {"intra_op_threads": 2, "inter_op_threads": 1,
                                        "execution_mode": "ORT_SEQUENTIAL",
                                        "graph_optimization": "ORT_ENABLE_BASIC", "intra_op_spinning": False}
    with pytest.raises(BenchError, match="graph_optimization must be one of disable, basic, extended, all"):
        runtime.load(get_model("mnist-mlp"), mnist_mlp_results / "exports" / "mnist-mlp", torch.device("cpu"),
                     1, options={"graph_optimization": "max"})
