"""`bench merge`: files of several machines grouped by machine, shards of one machine joined into one run
file that compare and report read; rows measured twice or settings that differ are refused."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.errors import BenchError
from bench.records.compare import compare
from bench.records.merge import machine_of, merge_runs
from bench.records.reader import parse_run, read_run

DATA = Path(__file__).parent / "data"


def _run() -> dict:
    return json.loads(gzip.decompress((DATA / "run_complete_cpu.json.gz").read_bytes()))


def _split(data: dict) -> tuple[dict, dict]:
    """The run's two rows as two shard files (one row each), as two jobs would have written them."""
    parts = []
    for bench_entry, outcome in zip(data["benchmarks"], data["bench"]["outcomes"], strict=True):
        part = copy.deepcopy(data)
        part["benchmarks"], part["bench"]["outcomes"] = [bench_entry], [outcome]
        part["bench"]["config"]["runtimes"] = [outcome["runtime"]]
        parts.append(part)
    return parts[0], parts[1]


def _other_machine(data: dict, cpu: str = "Apple M3 Pro", node: str = "laptop") -> dict:
    out = copy.deepcopy(data)
    out["machine_info"]["bench"]["cpu"] = cpu
    out["machine_info"]["node"] = node
    return out


def _write(tmp_path: Path, name: str, data: dict) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_shards_of_one_machine_join_into_one_run_that_reads_like_the_unsharded_one(tmp_path):
    whole = parse_run(_run())
    a, b = _split(_run())
    runs = [read_run(_write(tmp_path, "a.json", a)), read_run(_write(tmp_path, "b.json", b))]
    (machine,) = merge_runs(runs)
    assert machine.machine == machine_of(whole) == "AMD EPYC"
    assert [r.key for r in machine.merged.rows] == [r.key for r in whole.rows]
    assert [r.p50_ms for r in machine.merged.rows] == [r.p50_ms for r in whole.rows]
    # Speedups are recomputed over the joined rows: eager from one shard, ONNX Runtime from the other.
    assert [r.speedup_vs_eager for r in machine.merged.rows] == [r.speedup_vs_eager for r in whole.rows]
    assert machine.merged.config["runtimes"] == ["eager", "onnxruntime"]
    assert [m["file"] for m in machine.merged.data["bench"]["merged_from"]] == [
        str(tmp_path / "a.json"), str(tmp_path / "b.json")]


def test_two_machines_are_two_tables_and_two_files_and_compare_still_warns(tmp_path):
    here = _write(tmp_path, "ci.json", _run())
    there = _write(tmp_path, "laptop.json", _other_machine(_run()))
    out = tmp_path / "merged.json"

    result = CliRunner().invoke(app, ["merge", str(here), str(there), "--output", str(out), "--format",
                                      "json"])

    assert result.exit_code == 0, result.output
    tables = {t["key"]: t for t in json.loads(result.stdout)["tables"]}
    assert set(tables) == {"machines", "benchmark.cpu.m1", "benchmark.cpu.m2"}
    cpu_row = next(r for r in tables["machines"]["rows"] if r["item"] == "CPU")
    assert (cpu_row["machine 1"], cpu_row["machine 2"]) == ("AMD EPYC", "Apple M3 Pro")
    assert "machine 2: Apple M3 Pro" in tables["benchmark.cpu.m2"]["title"]
    first, second = read_run(tmp_path / "merged_m1.json"), read_run(tmp_path / "merged_m2.json")
    assert len(first.rows) == len(second.rows) == 2
    warnings = compare(first, second, metric="p50", threshold_pct=10).warnings
    assert any("different cpu" in w for w in warnings)


def test_a_row_twice_on_one_machine_or_other_settings_are_refused(tmp_path):
    run = read_run(_write(tmp_path, "a.json", _run()))
    other_host = read_run(_write(tmp_path, "b.json", _other_machine(_run(), cpu="AMD EPYC", node="node2")))
    with pytest.raises(BenchError, match="mnist-mlp / eager / cpu / batch 1 is in both"):
        merge_runs([run, other_host])  # same CPU model on another host: one machine, so a duplicate row
    threads = _run()
    threads["bench"]["config"]["threads"] = 7
    a, _ = _split(_run())
    _, b = _split(threads)
    with pytest.raises(BenchError, match="measured with other settings .*threads: 1 vs 7"):
        merge_runs([read_run(_write(tmp_path, "c.json", a)), read_run(_write(tmp_path, "d.json", b))])
    # The same setting, another allocator in effect (one shard's node preloads jemalloc): refused too.
    preloaded = _run()
    preloaded["bench"]["allocator"] = "libjemalloc.so.2 (LD_PRELOAD; --allocator retain does not reach it)"
    _, b = _split(preloaded)
    with pytest.raises(BenchError, match="measured with other settings .*host memory: None vs 'libjemalloc"):
        merge_runs([read_run(_write(tmp_path, "e.json", a)), read_run(_write(tmp_path, "f.json", b))])


def test_an_existing_output_is_never_overwritten(tmp_path):
    a, b = _split(_run())
    out = _write(tmp_path, "merged.json", {"keep": True})
    result = CliRunner().invoke(app, ["merge", str(_write(tmp_path, "a.json", a)),
                                      str(_write(tmp_path, "b.json", b)), "--output", str(out)])
    assert result.exit_code == 2
    assert "already exist(s); choose another --output" in result.output
    assert json.loads(out.read_text()) == {"keep": True}
