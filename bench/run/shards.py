"""A benchmark matrix cut into shards, and the folder that keeps a sharded run's state between attempts.

One shard is one model (or a few) with every runtime and batch size of the run: a model's runtimes stay in
one job, so its paired speedups are timed in interleaved rounds on one machine, and each model is exported
by exactly one job (two jobs exporting one model into a shared results folder would race). The folder,
`<results>/shards/<device>-<hash>/`, is named by the matrix and its measurement settings, so rerunning the
same command finds it: shards whose JSON is there are done and never rerun; the rest are submitted again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.records.reader import RunResults, read_run
from bench.run.config import RunConfig
from train.fileio import ensure_output_dir, write_json

PLAN_FILE = "plan.json"
JOBS_FILE = "jobs.jsonl"  # one line per submission: shard, job id, launcher, when, log paths
MERGED_FILE = "merged.json"  # the merged run files written from this folder's shards
SUBMITIT_DIR = "submitit"  # submitit's own folder: pickled calls, results, each job's stdout/stderr


@dataclass(frozen=True)
class Shard:
    """One job's part of the matrix: `models` with every runtime and batch size of the run."""

    index: int  # 1-based, as the folder's file names and the table show it
    models: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"shard-{self.index:02d}"

    def config(self, base: RunConfig) -> RunConfig:
        """The run config this shard's job runs: the base config restricted to its models."""
        return RunConfig.from_dict({**base.to_dict(), "models": list(self.models)}, where=self.name)

    def cases(self, base: RunConfig) -> list[str]:
        """The rows this shard produces, as 'model / runtime / batch' (what a failed shard leaves missing)."""
        return [f"{c.model} / {c.runtime} / {'nodes' if c.is_graph else 'batch'} {c.size}"
                for c in self.config(base).cases()]


def plan_shards(config: RunConfig, models_per_shard: int = 1) -> list[Shard]:
    """The run's models in order, `models_per_shard` to a shard."""
    if isinstance(models_per_shard, bool) or not isinstance(models_per_shard, int) or models_per_shard < 1:
        raise BenchError(f"--models-per-shard must be an integer >= 1, got {models_per_shard!r}")
    models = list(config.models)
    return [Shard(n + 1, tuple(models[i:i + models_per_shard]))
            for n, i in enumerate(range(0, len(models), models_per_shard))]


def plan_key(config: RunConfig, shards: list[Shard], placement: Mapping[str, Any]) -> str:
    """A short hash of what the numbers depend on: the run's settings, the shards, where jobs run (partition,
    GPUs, CPUs; not the time limit or account, so a timed-out run can be resubmitted with more time)."""
    settings = {k: v for k, v in config.to_dict().items() if k not in ("results_dir", "reuse_exports",
                                                                        "failed_exports")}
    text = json.dumps({"config": settings, "shards": [list(s.models) for s in shards],
                       "placement": dict(placement)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class ShardFolder:
    """`<results>/shards/<device>-<key>/`: the plan, the job log, submitit's files, each shard's JSON."""

    path: Path

    @classmethod
    def for_run(cls, config: RunConfig, shards: list[Shard], placement: Mapping[str, Any]) -> ShardFolder:
        """The folder of this matrix, created with its plan the first time (and found again after that)."""
        device = config.device.replace(":", "")
        folder = cls(config.results_dir / "shards" / f"{device}-{plan_key(config, shards, placement)}")
        ensure_output_dir(folder.path)
        if not folder.plan_path.exists():
            write_json(folder.plan_path, {
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "config": config.to_dict(), "placement": dict(placement),
                "shards": [{"name": s.name, "models": list(s.models), "rows": s.cases(config)}
                           for s in shards]})
        return folder

    @property
    def plan_path(self) -> Path:
        return self.path / PLAN_FILE

    @property
    def submitit_dir(self) -> Path:
        return self.path / SUBMITIT_DIR

    def result_path(self, shard: Shard) -> Path:
        """Where the shard's job leaves its run JSON (its log beside it, `.log`)."""
        return self.path / f"{shard.name}.json"

    def result(self, shard: Shard) -> RunResults | None:
        """The shard's finished run, or None when it has none yet; a damaged file is set aside (renamed
        `.damaged`, never deleted) so the shard runs again."""
        path = self.result_path(shard)
        if not path.exists():
            return None
        try:
            return read_run(path)
        except BenchError:
            path.rename(path.with_suffix(".json.damaged"))
            return None

    def record_job(self, shard: Shard, job_id: str, launcher: str, stdout: Path, stderr: Path) -> None:
        """Append a submission to the job log (the folder's history; never rewritten)."""
        line = {"shard": shard.name, "job_id": job_id, "launcher": launcher,
                "submitted": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "stdout": str(stdout), "stderr": str(stderr)}
        with open(self.path / JOBS_FILE, "a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")

    def merged_files(self) -> list[Path]:
        """The merged run files an earlier attempt wrote from these shards, if all still exist."""
        path = self.path / MERGED_FILE
        if not path.exists():
            return []
        files = [Path(p) for p in json.loads(path.read_text(encoding="utf-8"))["files"]]
        return files if files and all(f.exists() for f in files) else []

    def record_merged(self, files: list[Path]) -> None:
        """Remember the merged run files, so a rerun with nothing left to do writes no copy."""
        write_json(self.path / MERGED_FILE, {"files": [str(f) for f in files]})

    def jobs(self) -> list[dict[str, Any]]:
        """Every submission recorded, oldest first."""
        path = self.path / JOBS_FILE
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
