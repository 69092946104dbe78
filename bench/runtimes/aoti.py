"""AOTInductor: model.pt2, a shared library compiled for this CPU at export, loaded with aoti_load_package."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import torch

from bench.errors import BenchError
from bench.measure.precision import FP32, PrecisionPolicy
from bench.runtimes.base import Runtime, RuntimeUnavailable, Session, set_torch_threads
from bench.runtimes.registry import register_runtime
from bench.runtimes.torch_session import torch_session
from export.layout import load_manifest
from export.util import first_line
from train.registry import ModelSpec

# ATen's CPU capabilities in the order each adds instructions to the last: a package compiled for a later
# one stops with an illegal instruction on a CPU that only has an earlier one.
_ISA_ORDER = ("DEFAULT", "AVX2", "AVX512")


@register_runtime
class AotiRuntime(Runtime):
    """`aoti_load_package(model.pt2)` of a file this user's `bench export` wrote (or --trust), on the CPU."""

    name = "aoti"
    export_format = "aoti"
    default = False  # its export compiles C++ for 6-13 s per model (2 cores): `--runtimes aoti` asks for it
    devices = ("cpu",)

    def unavailable_reason(self, device: str) -> str:
        """The CPU only: the package holds a library compiled for the CPU at export."""
        kind = device.split(":")[0]
        if kind not in self.devices:
            return (f"aoti does not run on {kind}: model.pt2 is compiled for the CPU at export (a {kind} "
                    f"package would need the AOTInductor export itself to run on the {kind} device)")
        return ""

    def preload(self) -> None:
        from export.formats.aoti import quiet_inductor

        with quiet_inductor():
            import torch._inductor.package  # noqa: F401 - inductor's modules load with aoti_load_package

    def load(self, spec: ModelSpec, model_dir: Path, device: torch.device, threads: int, *,
             trust: bool = False, precision: PrecisionPolicy = FP32,
             options: Mapping[str, object] | None = None) -> Session:
        from export.formats.aoti import LOAD_RECIPE, load_aoti, package_metadata

        reason = self.unavailable_reason(device.type)
        if reason:
            raise RuntimeUnavailable(reason)
        path = self.artifact_path(model_dir, device, trust=trust)  # code: only files this user wrote
        built_with = _built_with(model_dir)
        if built_with != torch.__version__:
            raise RuntimeUnavailable(
                f"{path.name} was built by torch {built_with}; this is torch {torch.__version__}: re-run "
                f"`bench export {Path(model_dir).name} --formats aoti`")
        metadata = package_metadata(path)
        _check_cpu(path, str(metadata.get("AOTI_CPU_ISA", "")), Path(model_dir).name)
        set_torch_threads(threads)  # the package's kernels take the caller's OpenMP thread count
        try:
            model = load_aoti(path)
        except Exception as exc:  # noqa: BLE001 - a package torch cannot open: one line, not a C++ trace
            raise BenchError(f"cannot load {path}: {first_line(exc)}; re-run "
                             f"`bench export {Path(model_dir).name} --formats aoti`") from None
        session = torch_session(model, runtime=self.name, backend="AOTInductor", device=device, path=path,
                                recipe=f"{LOAD_RECIPE}; torch.inference_mode()", threads=threads)
        session.details = replace(session.details, settings={
            "built_with_torch": built_with, "cpu_isa": metadata.get("AOTI_CPU_ISA", ""),
            "cpu_capability": torch.backends.cpu.get_cpu_capability()})
        return session

    def raw_call(self, artifact: Path, inputs: Sequence[torch.Tensor],
                 threads: int) -> tuple[Callable[[], object], str]:
        """The package loaded here with torch._inductor.aoti_load_package alone, called on `inputs`."""
        from torch._inductor import aoti_load_package

        torch.set_num_threads(threads)
        model = aoti_load_package(str(artifact))
        bound = tuple(inputs)

        @torch.inference_mode()
        def call() -> object:
            return model(*bound)

        return call, "a raw torch._inductor.aoti_load_package(model.pt2) call"


def _built_with(model_dir: Path) -> str:
    """The torch version that compiled the package: the aoti entry's own record (an entry carried over from
    an earlier export keeps it), else the manifest's versions."""
    manifest = load_manifest(model_dir)
    entry = manifest["formats"].get("aoti") or {}
    versions = manifest.get("versions")
    version = entry.get("torch") or (versions.get("torch") if isinstance(versions, dict) else None)
    if not isinstance(version, str):
        raise RuntimeUnavailable(f"the manifest in {model_dir} does not say which torch built model.pt2; "
                                 f"re-run `bench export {Path(model_dir).name} --formats aoti`")
    return version


def _check_cpu(path: Path, package_isa: str, model: str) -> None:
    """RuntimeUnavailable when the package was compiled for vector instructions this CPU lacks."""
    here = torch.backends.cpu.get_cpu_capability()
    needed = package_isa.split()[0].upper() if package_isa else ""
    if needed in _ISA_ORDER and here in _ISA_ORDER and _ISA_ORDER.index(needed) > _ISA_ORDER.index(here):
        raise RuntimeUnavailable(f"{path.name} was compiled for {package_isa} and this CPU offers {here}: "
                                 f"re-run `bench export {model} --formats aoti` on this machine")
