"""Report 002's speed and memory axes: time per epoch and the training loop's peak memory in every record
and in the training table (CPU: sampled RSS above the loop's start; CUDA: the allocator's peak)."""

import json

import pytest
from typer.testing import CliRunner

from bench.cli import app
from tests.train_fixtures import make_cifar100
from train.memory import ResidentPeak, resident_bytes


@pytest.mark.skipif(resident_bytes() is None, reason="no /proc/self/statm on this system")
def test_the_sampled_peak_sees_memory_held_only_for_a_moment():
    import mmap
    import time

    size = 64 * 2**20
    with ResidentPeak() as peak:
        # Fresh anonymous pages (an allocator may serve a malloc from memory this test process already
        # holds, which RSS cannot show): 64 MiB touched, held 50 ms, unmapped before the block ends.
        held = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)  # private: as malloc's
        held.write(b"\x01" * size)
        time.sleep(0.05)
        held.close()
    assert 60 * 2**20 <= peak.bytes < 200 * 2**20
    assert "sampled every 5 ms" in peak.method


def test_records_and_the_training_table_carry_time_per_epoch_and_peak_memory(tmp_path):
    data = make_cifar100(tmp_path / "data", train=40, test=20)
    results = tmp_path / "results"
    trained = CliRunner().invoke(app, [
        "train", "cifar100", "--data-dir", str(data), "--results-dir", str(results), "--epochs", "2",
        "--set", "batch_size=8", "--no-tensorboard", "--no-download", "--device", "cpu"])
    assert trained.exit_code == 0, trained.output
    record = json.loads((results / "training" / "cifar100" / "cifar100-bottleneck.json").read_text())
    metrics = record["runs"][0]["metrics"]
    assert metrics["time_per_epoch_s"] == pytest.approx(metrics["total_train_time_s"] / 2)
    assert isinstance(metrics["peak_rss_bytes"], int) and metrics["peak_rss_bytes"] >= 0
    assert "peak_memory_bytes" not in metrics  # the CUDA allocator's figure: CUDA runs only
    report = CliRunner().invoke(app, ["report", "--results-dir", str(results), "--dataset", "cifar100",
                                      "--format", "json"])
    (table,) = [t for t in json.loads(report.stdout)["tables"] if t["key"] == "cifar100.training"]
    (row,) = table["rows"]
    assert row["s/epoch"]["mean"] == pytest.approx(metrics["time_per_epoch_s"])
    assert row["peak train MiB"]["mean"] == pytest.approx(metrics["peak_rss_bytes"] / 2**20)
