"""Hardware and software facts recorded with every result (the MNIST CNN report's hardware block)."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

import psutil
import torch

from bench.measure.hardware import cpu_peak, cuda_peak
from bench.measure.precision import torch_flags

_PACKAGES = ("torch", "torchvision", "torchaudio", "torch_geometric", "onnx", "onnxruntime-gpu",
             "onnxruntime", "pytest-benchmark")


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, else platform.processor()."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def package_versions() -> dict[str, str]:
    """Installed versions of the packages whose behaviour shapes the numbers (absent ones omitted)."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def onnxruntime_providers() -> list[str]:
    """Execution providers this onnxruntime build offers (offered is not the same as usable)."""
    try:
        import onnxruntime
    except ImportError:
        return []
    return list(onnxruntime.get_available_providers())


def cuda_info() -> dict[str, object]:
    """CUDA/cuDNN versions and GPU names; `available` False on a CPU-only machine."""
    info: dict[str, object] = {
        "available": torch.cuda.is_available(),
        "torch_cuda_build": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "precision_flags": torch_flags(),
    }
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["driver"] = _nvidia_driver()
    return info


def _nvidia_driver() -> str | None:
    """The NVIDIA driver version from nvidia-smi, None when it cannot be asked."""
    try:
        proc = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else None


def git_commit(repo: Path | None = None) -> str | None:
    """The project's git commit (with '+dirty' for local changes), None outside a checkout."""
    repo = repo or Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def hardware_peaks(threads: int) -> dict[str, object]:
    """Theoretical fp32 peaks, with their inputs: the CPU with `threads` threads, and each visible GPU."""
    peaks: dict[str, object] = {"cpu": cpu_peak(threads).as_dict()}
    if torch.cuda.is_available():
        peaks["cuda"] = [cuda_peak(i).as_dict() for i in range(torch.cuda.device_count())]
    return peaks


def collect_environment(threads: int | None = None) -> dict[str, object]:
    """Everything above as one JSON-ready dict; `threads` is the intra-op thread count used."""
    memory = psutil.virtual_memory()
    return {
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cores": psutil.cpu_count(logical=True),
        "threads_used": threads if threads is not None else torch.get_num_threads(),
        "ram_gib": round(memory.total / 2**30, 1),
        "packages": package_versions(),
        "onnxruntime_providers_available": onnxruntime_providers(),
        "cuda": cuda_info(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "hardware_peak": hardware_peaks(threads if threads is not None else torch.get_num_threads()),
        "git_commit": git_commit(),
    }
