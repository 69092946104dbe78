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
    assert config.options_for("onnxruntime") == {"graph_optimization": "all", "intra_op_spinning": False,
                                                 "execution_mode": "sequential", "inter_op_threads": 1}
    assert config.options_for("eager") == {}
    assert RunConfig.read(config.write(tmp_path / "run.json")) == config
    for options, message in (
        ({"onnxruntime": {"threads": "4"}}, "unknown option onnxruntime.threads; onnxruntime takes: "
                                            "onnxruntime.graph_optimization, onnxruntime.intra_op_spinning"),
        ({"torchscript": {"x": "1"}}, "--runtime-option for torchscript, which this run does not include"),
        ({"onnxruntime": {"intra_op_spinning": "maybe"}}, "intra_op_spinning takes true or false"),
        ({"onnxruntime": {"execution_mode": "async"}}, "execution_mode must be one of sequential, parallel"),
        # ONNX Runtime would run it sequentially and still say "parallel" was asked.
        ({"onnxruntime": {"execution_mode": "parallel"}}, "parallel needs onnxruntime.inter_op_threads >= 2"),
        ({"onnxruntime": {"enable_mem_pattern": "maybe"}}, "enable_mem_pattern takes true or false"),
        ({"onnxruntime": {"intra_op_num_threads": "3"}}, "intra_op_num_threads is set by bench .--threads"),
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


def test_onnxruntime_passes_any_other_setting_through_and_reads_it_back(mnist_mlp_results):
    import torch

    from bench.runtimes import get_runtime
    from train.registry import get_model

    runtime = get_runtime("onnxruntime")
    asked = {"execution_mode": "parallel", "inter_op_threads": "2", "enable_mem_pattern": "false",
             "enable_cpu_mem_arena": "off",
             "session.set_denormal_as_zero": "1", "provider.unused_by_the_cpu_provider": "x"}
    session = runtime.load(get_model("mnist-mlp"), mnist_mlp_results / "exports" / "mnist-mlp",
                           torch.device("cpu"), 1, options=runtime.resolve_options(asked))
    settings = session.details.settings
    # Read back from the session, not echoed: the session's own SessionOptions hold each one.
    assert settings["execution_mode"] == "ORT_PARALLEL" and settings["inter_op_threads"] == 2
    assert settings["enable_mem_pattern"] is False and settings["enable_cpu_mem_arena"] is False
    assert settings["session.set_denormal_as_zero"] == "1"
    assert settings["provider_options"] == {"unused_by_the_cpu_provider": "x"}
    inputs = get_model("mnist-mlp").example_inputs(3)
    eager = get_runtime("eager").load(get_model("mnist-mlp"), mnist_mlp_results / "exports" / "mnist-mlp",
                                      torch.device("cpu"), 1)
    torch.testing.assert_close(session.run(inputs), eager.run(inputs), atol=1e-5, rtol=1e-4)


def test_bench_run_takes_ort_options_and_refuses_a_bad_one_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from bench.cli import app

    result = CliRunner().invoke(app, ["run", "--models", "mnist-mlp", "--runtimes", "eager,onnxruntime",
                                      "--ort-option", "enable_mem_pattern=sometimes",
                                      "--results-dir", str(tmp_path)])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == ["error: onnxruntime.enable_mem_pattern takes true or false, got 'sometimes'"]
    assert not (tmp_path / "benchmarks").exists()
