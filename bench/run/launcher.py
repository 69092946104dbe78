"""Where a sharded run's jobs run: submitit's SlurmExecutor on a cluster, or its LocalExecutor (real
subprocesses) here; the settings as options or a YAML profile, checked before anything is submitted."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from bench.errors import BenchError

LAUNCHERS = ("local", "slurm")
DEFAULT_TIME_LIMIT_MIN = 60  # per job; a matrix of eight models on one device takes minutes, not hours


@dataclass(frozen=True)
class LaunchSettings:
    """How the shards are launched; units in the names. None: the scheduler's (or bench's) default."""

    launcher: str = "local"
    partition: str | None = None  # Slurm partition
    gpus: int = 0  # GPUs per job (Slurm --gpus-per-node)
    cpus_per_task: int | None = None  # Slurm --cpus-per-task; default: the run's --threads
    time_limit_min: int = DEFAULT_TIME_LIMIT_MIN  # per job; a job past it is killed and its shard failed
    account: str | None = None  # Slurm --account
    max_parallel: int | None = None  # jobs at once; local default 1 (shards on one machine time each other)
    models_per_shard: int = 1
    setup: tuple[str, ...] = ()  # shell lines before each Slurm job (module load, source …/activate)
    detach: bool = False  # Slurm: submit, record the job ids and return; rerun the command to collect

    def __post_init__(self) -> None:
        if self.launcher not in LAUNCHERS:
            raise BenchError(f"unknown launcher {self.launcher!r}; choose one of: {', '.join(LAUNCHERS)}")
        for name, low in (("gpus", 0), ("cpus_per_task", 1), ("time_limit_min", 1), ("max_parallel", 1),
                          ("models_per_shard", 1)):
            value = getattr(self, name)
            if value is None and name in ("cpus_per_task", "max_parallel"):
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise BenchError(f"launcher setting {name} must be an integer >= {low}, got {value!r}")
        if not isinstance(self.setup, tuple) or not all(isinstance(s, str) for s in self.setup):
            raise BenchError(f"launcher setting setup must be a list of shell lines, got {self.setup!r}")
        if self.detach and self.launcher != "slurm":
            raise BenchError("--detach leaves jobs running on a cluster; local shards run while bench waits "
                             "(drop --detach, or use --launcher slurm)")

    @property
    def parallel(self) -> int:
        """Jobs in flight at once: local 1 unless asked (timings on one machine disturb each other), Slurm
        every shard (each job has its own allocation)."""
        if self.max_parallel is not None:
            return self.max_parallel
        return 1 if self.launcher == "local" else 1_000_000

    def placement(self) -> dict[str, Any]:
        """What decides the machine the numbers come from (part of the shard folder's name)."""
        return {"launcher": self.launcher, "partition": self.partition, "gpus": self.gpus,
                "cpus_per_task": self.cpus_per_task, "models_per_shard": self.models_per_shard}


def launch_settings(profile: Path | None, **given: Any) -> LaunchSettings:
    """Settings from a YAML profile (keys: the LaunchSettings fields) overridden by the options given
    (None: not given)."""
    values: dict[str, Any] = read_profile(profile) if profile is not None else {}
    values.update({k: v for k, v in given.items() if v is not None})
    if "setup" in values:
        values["setup"] = tuple(values["setup"]) if isinstance(values["setup"], list) else values["setup"]
    return LaunchSettings(**values)


def read_profile(path: Path) -> dict[str, Any]:
    """A launcher profile: a YAML mapping of LaunchSettings fields; one line naming what is wrong."""
    import yaml

    try:
        values = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchError(f"launcher profile not found: {path}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BenchError(f"cannot read launcher profile {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(values, dict):
        raise BenchError(f"launcher profile {path} must be a YAML mapping, e.g. `partition: gpu`")
    known = [f.name for f in fields(LaunchSettings)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise BenchError(f"unknown key(s) {', '.join(unknown)} in launcher profile {path}; "
                         f"valid keys: {', '.join(known)}")
    return values


def require_scheduler(settings: LaunchSettings) -> None:
    """Slurm needs `sbatch` (to submit) and `srun` (submitit's job script runs the shard through it) on PATH:
    without them, one line and nothing submitted."""
    if settings.launcher != "slurm":
        return
    missing = [tool for tool in ("sbatch", "srun") if shutil.which(tool) is None]
    if missing:
        raise BenchError(f"--launcher slurm needs Slurm's {' and '.join(missing)}, which "
                         f"{'is' if len(missing) == 1 else 'are'} not on PATH here; run on the cluster's "
                         "login node, or use --launcher local")


def make_executor(settings: LaunchSettings, folder: Path, threads: int):
    """A submitit executor for `settings`, writing its pickles and logs under `folder`."""
    import submitit

    if settings.launcher == "slurm":
        require_scheduler(settings)
        # max_num_timeout=0: a benchmark is not checkpointable; a job past its limit fails and is rerun whole.
        executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=0)
        executor.update_parameters(
            job_name="bench-run", time=settings.time_limit_min, partition=settings.partition,
            gpus_per_node=settings.gpus or None, cpus_per_task=settings.cpus_per_task or threads,
            ntasks_per_node=1, account=settings.account, setup=list(settings.setup))
        return executor
    executor = submitit.LocalExecutor(folder=folder, max_num_timeout=0)
    executor.update_parameters(timeout_min=settings.time_limit_min)
    return executor

