"""TensorBoard view of one `bench run` JSON: per-row scalars and a markdown table, beside training runs."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from bench.errors import BenchError
from bench.records.reader import read_run
from bench.records.schema import REFERENCE_RUNTIME
from bench.report.render import to_markdown
from bench.report.tables import run_table

MIB = 2**20


def _honour_umask(folder: Path) -> None:
    """mkdtemp makes 0700 folders; logs are shared files, so give the folder the mode mkdir would."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)


def run_name(json_path: Path, data: dict) -> str:
    """The run directory's name: the JSON's UTC time stamp and device (`20261123T115108Z_cpu`)."""
    stem = Path(json_path).stem
    if stem[:8].isdigit():
        return stem
    stamp = data.get("datetime")
    moment = datetime.fromisoformat(stamp) if stamp else datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def row_scalars(row) -> dict[str, float]:
    """Scalar name -> value of one measured row (latency in ms, throughput per s, memory in MiB)."""
    values = {"p50_ms": row.p50_ms, "p99_ms": row.p99_ms, "throughput_per_s": row.throughput_per_s,
              "speedup_vs_eager": 1.0 if row.runtime == REFERENCE_RUNTIME else row.speedup_vs_eager,
              "peak_memory_mib": None if row.peak_memory_bytes is None else row.peak_memory_bytes / MIB}
    return {k: float(v) for k, v in values.items() if v is not None}


def log_benchmark(json_path: Path, log_root: Path) -> Path:
    """Write <log_root>/<time>/ for the run in `json_path`: scalars `<metric>/<model>/<device>/<runtime>`
    stepped by batch size (or node count) and the results table as text. The directory is filled under a
    temporary name and renamed: it appears whole or not at all."""
    from torch.utils.tensorboard import SummaryWriter

    run = read_run(json_path)
    data, rows = run.data, run.rows
    target = Path(log_root) / run_name(json_path, data)
    if target.exists():
        raise BenchError(f"{target} already exists; TensorBoard logs of this run were written before")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        writer = SummaryWriter(str(staging))
        for row in rows:
            if row.status != "ok":
                continue
            for name, value in row_scalars(row).items():
                tag = f"{name}/{row.model}/{row.device}/{row.runtime}"
                writer.add_scalar(tag, value, global_step=row.batch)
        for device in sorted({row.device for row in rows}):
            table = run_table(rows, device)
            writer.add_text(f"results/{device}", to_markdown(table), global_step=0)
        writer.add_text("source", f"`{json_path}`", global_step=0)
        writer.close()
        _honour_umask(staging)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
