"""Sharded runs: real shards through submitit's LocalExecutor (subprocesses), a shard that dies and is
resubmitted alone, the merged file; the Slurm path through the sbatch script submitit writes."""

from __future__ import annotations

import json
import os
import pickle
import signal
import stat
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.records.reader import read_run
from bench.run.config import RunConfig
from bench.run.launcher import LaunchSettings, launch_settings
from bench.run.shards import JOBS_FILE, ShardFolder, plan_shards

TINY = ["--runtimes", "eager", "--batch-sizes", "1", "--threads", "1", "--warmup", "1",
        "--max-time", "0.02", "--min-rounds", "3", "--no-memory", "--no-paired", "--format", "json"]


def _jobs(folder: Path) -> list[dict]:
    path = folder / JOBS_FILE
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _kill_when_running(folder_root: Path, shard: str, stop: threading.Event) -> None:
    """SIGKILL `shard`'s task process once it runs and logs (the OOM killer, a lost node): LocalExecutor's
    job id is the pid of its controller, whose child runs the shard."""
    import psutil

    while not stop.is_set():
        for folder in folder_root.glob("cpu-*"):
            job = next((j for j in _jobs(folder) if j["shard"] == shard), None)
            if job is None or not Path(job["stderr"]).exists():
                continue
            try:
                tasks = psutil.Process(int(job["job_id"])).children()
            except psutil.NoSuchProcess:
                return
            if tasks:
                for task in tasks:
                    os.kill(task.pid, signal.SIGKILL)
                return
        time.sleep(0.05)


@pytest.mark.slow
def test_local_shards_run_apart_a_killed_one_is_resubmitted_alone_and_all_merge(tmp_path):
    results = tmp_path / "results"
    argv = ["run", "--models", "mnist-mlp,cora-mlp", *TINY, "--launcher", "local", "--results-dir",
            str(results)]
    stop = threading.Event()
    killer = threading.Thread(target=_kill_when_running, args=(results / "shards", "shard-02", stop))
    killer.start()
    try:
        first = CliRunner().invoke(app, argv)
    finally:
        stop.set()
        killer.join()

    assert first.exit_code == 1, first.output
    (folder,) = (results / "shards").glob("cpu-*")
    assert (folder / "shard-01.json").exists() and not (folder / "shard-02.json").exists()
    assert "shard-02: FAILED" in first.output
    tables = {t["key"]: t for t in json.loads(first.stdout[first.stdout.index("{"):])["tables"]}
    failed = next(r for r in tables["shards"]["rows"] if r["shard"] == "shard-02")
    assert failed["status"] == "FAILED"
    assert failed["note"].startswith("the job ended without a result (state: ")
    # The failure names the job's log (a file that exists) and the rows the shard owed.
    log = failed["note"].split("log: ")[1].split(";")[0]
    assert Path(log).exists()
    assert "would have produced: cora-mlp / eager / nodes 2708" in failed["note"]
    assert not list((results / "benchmarks").glob("*.json")), "merged before every shard was done"
    shard_one = (folder / "shard-01.json").read_bytes()

    second = CliRunner().invoke(app, argv)

    assert second.exit_code == 0, second.output
    jobs = _jobs(folder)
    assert [j["shard"] for j in jobs] == ["shard-01", "shard-02", "shard-02"]  # only the missing one again
    assert len({j["job_id"] for j in jobs}) == 3  # separate processes
    assert (folder / "shard-01.json").read_bytes() == shard_one  # nothing written before was touched
    (merged_path,) = (results / "benchmarks").glob("*.json")
    merged = read_run(merged_path)
    shards = [read_run(folder / f"shard-0{n}.json") for n in (1, 2)]
    assert [r.key for r in merged.rows] == [r.key for s in shards for r in s.rows]
    assert [r.p50_ms for r in merged.rows] == [r.p50_ms for s in shards for r in s.rows]
    assert {r.model for r in merged.rows} == {"mnist-mlp", "cora-mlp"}
    assert merged.config["models"] == ["mnist-mlp", "cora-mlp"]
    assert [s["job_id"] for s in merged.data["bench"]["sharded"]["shards"]] == [jobs[0]["job_id"],
                                                                                jobs[2]["job_id"]]
    assert len(merged.data["bench"]["merged_from"]) == 2

    # A third run has nothing to do: no job, no second merged file.
    third = CliRunner().invoke(app, argv)
    assert third.exit_code == 0, third.output
    assert len(_jobs(folder)) == 3
    assert list((results / "benchmarks").glob("*.json")) == [merged_path]
    assert "2 of 2 shard(s) already on file" in third.output

    # `bench merge` of the shard files gives the same rows as the run's merged file.
    out = tmp_path / "again.json"
    merged_again = CliRunner().invoke(app, ["merge", str(folder / "shard-01.json"),
                                            str(folder / "shard-02.json"), "--output", str(out)])
    assert merged_again.exit_code == 0, merged_again.output
    assert [r.p50_ms for r in read_run(out).rows] == [r.p50_ms for r in merged.rows]


def _fake_sbatch(bin_dir: Path, capture: Path, job_id: int) -> None:
    """An `sbatch` that keeps the script it is given and answers as Slurm does."""
    bin_dir.mkdir()
    script = bin_dir / "sbatch"
    # Each submission gets the next id (job_id, job_id + 1, …), as a real queue would hand out.
    count = bin_dir / "submitted"
    script.write_text(f'#!/bin/sh\ncp "$1" "{capture}"\necho x >> "{count}"\n'
                      f'echo "Submitted batch job $(( {job_id} - 1 + $(wc -l < "{count}") ))"\n')
    srun = bin_dir / "srun"  # never called here: submitit only checks that the cluster has it
    srun.write_text("#!/bin/sh\nexit 1\n")
    for tool in (script, srun):
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)


def test_slurm_jobs_are_sbatch_scripts_with_the_partition_gpus_time_and_the_shards_call(tmp_path,
                                                                                        monkeypatch):
    capture = tmp_path / "submitted.sh"
    _fake_sbatch(tmp_path / "bin", capture, 4242)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    results = tmp_path / "results"
    profile = tmp_path / "cluster.yaml"
    profile.write_text("launcher: slurm\npartition: gpu-h100\ngpus: 1\ntime_limit_min: 45\n"
                       "account: ml-bench\nsetup:\n  - source /shared/venv/bin/activate\n")

    result = CliRunner().invoke(app, ["run", "--device", "cuda", "--models", "mnist-cnn",
                                      "--runtimes", "eager,torchscript", "--threads", "8",
                                      "--launcher-profile", str(profile), "--time-limit", "30", "--detach",
                                      "--results-dir", str(results)])

    assert result.exit_code == 0, result.output
    assert "1 job(s) submitted; rerun the same command to collect them" in result.output
    text = capture.read_text()
    for line in ("#SBATCH --partition=gpu-h100", "#SBATCH --gpus-per-node=1", "#SBATCH --time=30",
                 "#SBATCH --cpus-per-task=8", "#SBATCH --account=ml-bench", "#SBATCH --job-name=bench-run",
                 "source /shared/venv/bin/activate"):
        assert line in text, text
    assert "-m submitit.core._submit" in text  # the command: submitit runs the pickled call below
    (folder,) = (results / "shards").glob("cuda-*")
    (job,) = _jobs(folder)
    assert job["job_id"] == "4242" and job["launcher"] == "slurm"
    (pickled,) = (folder / "submitit").glob("*_submitted.pkl")
    submission = pickle.loads(pickled.read_bytes())
    assert submission.function.__module__ == "bench.run.sharded"
    assert submission.function.__name__ == "run_shard"
    config, target = submission.args
    assert config["device"] == "cuda" and config["models"] == ["mnist-cnn"]
    assert config["runtimes"] == ["eager", "torchscript"] and config["threads"] == 8
    assert target == str(folder / "shard-01.json")


def test_shards_keep_a_models_runtimes_together_and_the_folder_follows_the_matrix(tmp_path):
    config = RunConfig(models=("mnist-mlp", "cora-gcn", "mnist-cnn"), runtimes=("eager", "onnxruntime"),
                       results_dir=tmp_path, threads=2)
    shards = plan_shards(config, 2)
    assert [s.models for s in shards] == [("mnist-mlp", "cora-gcn"), ("mnist-cnn",)]
    assert shards[0].cases(config)[:3] == ["mnist-mlp / eager / batch 1", "mnist-mlp / onnxruntime / batch 1",
                                           "mnist-mlp / eager / batch 64"]
    local = LaunchSettings("local").placement()
    same = ShardFolder.for_run(config, shards, local)
    assert ShardFolder.for_run(config, shards, local) == same
    # Another thread count, another partition or another cut is another folder; the time limit is not.
    assert ShardFolder.for_run(RunConfig(**{**config.__dict__, "threads": 1}), shards, local) != same
    slurm = LaunchSettings("slurm", partition="a", time_limit_min=10).placement()
    assert ShardFolder.for_run(config, shards, slurm) != same
    assert ShardFolder.for_run(config, shards, {**slurm}) == ShardFolder.for_run(
        config, shards, LaunchSettings("slurm", partition="a", time_limit_min=600).placement())
    assert ShardFolder.for_run(config, plan_shards(config, 1), local) != same


def test_options_override_the_profile(tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text("launcher: slurm\npartition: cpu\ncpus_per_task: 16\nmax_parallel: 4\n")
    settings = launch_settings(profile, partition="gpu", gpus=None)
    assert (settings.launcher, settings.partition, settings.cpus_per_task, settings.parallel) == \
        ("slurm", "gpu", 16, 4)
    assert LaunchSettings("local").parallel == 1  # shards on one machine run one after another


def test_a_slurm_jobs_runtimes_use_the_cpus_it_asks_for(tmp_path, monkeypatch):
    capture = tmp_path / "submitted.sh"
    _fake_sbatch(tmp_path / "bin", capture, 7)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    results = tmp_path / "results"
    result = CliRunner().invoke(app, ["run", "--models", "mnist-mlp,mnist-cnn", "--launcher", "slurm",
                                      "--cpus-per-task", "4", "--max-parallel", "1", "--detach",
                                      "--results-dir", str(results)])
    assert result.exit_code == 0, result.output
    assert "2 job(s) submitted" in result.output  # detached: every shard submitted, whatever --max-parallel
    assert "#SBATCH --cpus-per-task=4" in capture.read_text()
    configs = [pickle.loads(p.read_bytes()).args[0]
               for p in sorted((results / "shards").glob("cpu-*/submitit/*_submitted.pkl"))]
    assert [c["models"] for c in configs] == [["mnist-mlp"], ["mnist-cnn"]]  # jobs 7 and 8
    assert {c["threads"] for c in configs} == {4}  # not the login node's core count
