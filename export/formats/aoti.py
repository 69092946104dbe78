"""AOTInductor: torch.export captures the model, AOTInductor compiles it to a C++ shared library in model.pt2.

Exporting needs a C++ compiler (inductor's `config.cpp.cxx`: `$CXX` as it was when torch was imported, else
g++); loading needs none. The package runs on the CPU it was compiled for (`-march=native`, recorded as
`cpu_isa`) and only under the torch that built it (recorded as `torch`; bench/runtimes/aoti.py checks both).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import time
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from export.formats.base import ExportFormat, Inputs, Saved
from export.formats.onnx_model import dynamic_shapes
from train.errors import BenchError
from train.fileio import atomic_path
from train.registry import ModelSpec

EXPORTER = "torch.export + AOTInductor"
LOAD_RECIPE = "torch._inductor.aoti_load_package(model.pt2) on the CPU (a shared library compiled at export)"
# Inductor settings the package is compiled with (aoti_compile_and_package's `inductor_configs`), stated
# so that TORCHINDUCTOR_* variables in the user's environment cannot change them unrecorded.
# freezing off: freezing (documented for CPU inference) folds batch norms and prepacks weights for oneDNN;
# measured on this project's CNNs and MLP at one thread it made batch 1 slower on every model and helped
# only a batch-norm model at larger batches, for the same compile time.
# cpp.dynamic_threads on: without it inductor bakes torch.get_num_threads() of the exporting process into
# every kernel (`#pragma omp parallel num_threads(N)`, no OpenMP at all when N is 1), so a package exported
# on 16 cores would use 16 threads under `--threads 1`; with it the kernels take the caller's thread count.
INDUCTOR_CONFIGS: dict[str, object] = {"freezing": False, "cpp.dynamic_threads": True}
_METADATA_SUFFIX = "wrapper_metadata.json"  # AOTInductor's per-library build facts inside the package


class CompilerMissing(RuntimeError):
    """No C++ compiler to export with: this format fails with the line naming what to install (an
    exception, not a BenchError, so the pipeline records it as this format's failure and the others go on)."""


def compiler_missing() -> str:
    """Why AOTInductor would find no C++ compiler to export with here ("" when it would find one).

    Mirrors torch._inductor.cpp_builder.cpp_compiler_search: each name of `config.cpp.cxx` that runs with
    `--version` (None there means a conda-installed gcc, tried only with $TORCH_INDUCTOR_INSTALL_GXX)."""
    return "" if _compiler() else _missing_text()


def _missing_text() -> str:
    """The one line naming what to install."""
    return (
        f"aoti needs a C++ compiler to export (torch's inductor looks for {_candidates_text()}, and found "
        "none on PATH); install one (apt install g++) or set $CXX before starting, or leave aoti out of "
        "--formats/--runtimes")


def _candidates() -> tuple[str | None, ...]:
    """The compilers inductor will try, in order (`config.cpp.cxx`, fixed when torch._inductor loads)."""
    from torch._inductor import config

    cxx = config.cpp.cxx
    return tuple(cxx) if isinstance(cxx, (list, tuple)) else (cxx,)


def _candidates_text() -> str:
    """'$CXX (unset), else g++' or the names inductor was configured with."""
    names = [name for name in _candidates() if name is not None]
    text = " or ".join(names) or "no compiler name"
    return text if os.environ.get("CXX") else f"$CXX (unset), else {text}"


def _compiler() -> str:
    """The full path of the compiler inductor would use, or "" when none runs."""
    for name in _candidates():
        if name is None:
            if os.environ.get("TORCH_INDUCTOR_INSTALL_GXX"):
                return "conda gxx (TORCH_INDUCTOR_INSTALL_GXX)"  # inductor installs it on first use
            continue
        path = shutil.which(name)
        if path is None:
            continue
        try:
            subprocess.run([path, "--version"], capture_output=True, timeout=30, check=True)
        except (OSError, subprocess.SubprocessError):
            continue
        return path
    return ""


def compiler_version(path: str) -> str:
    """The first line of `path --version` (e.g. 'g++ (Debian 12.2.0-14) 12.2.0'), or "" when it says none."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return next((line.strip() for line in out.stdout.splitlines() if line.strip()), "")


def package_metadata(path: Path) -> dict:
    """AOTInductor's build facts stored in the package (AOTI_DEVICE_KEY, AOTI_CPU_ISA, ...); BenchError when
    the file is no AOTInductor package."""
    path = Path(path)
    hint = f"re-run `bench export {path.parent.name} --formats aoti`"
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(_METADATA_SUFFIX)]
            if not names:
                raise BenchError(f"{path} is not an AOTInductor package (it holds no {_METADATA_SUFFIX}); "
                                 f"{hint}")
            return json.loads(archive.read(names[0]))
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BenchError(f"{path} is not an AOTInductor package ({type(exc).__name__}: {exc}); {hint}") \
            from None
    except OSError as exc:
        raise BenchError(f"cannot read {path}: {exc.strerror or exc}; {hint}") from None


@contextlib.contextmanager
def quiet_inductor() -> Iterator[None]:
    """Silence, inside the block, two messages torch prints that are noise for our users: the warning
    torch.utils.cpp_extension logs when inductor imports it on a machine with no CUDA toolkit ('No CUDA
    runtime is found'), and torch.export's own pytree code tripping its LeafSpec deprecation."""
    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*LeafSpec.*", category=FutureWarning)
            yield
    finally:
        logger.setLevel(level)


def load_aoti(path: Path):
    """The package at `path` loaded as deployed (torch._inductor.aoti_load_package), called on CPU tensors."""
    with quiet_inductor():
        from torch._inductor import aoti_load_package

        return aoti_load_package(str(path))


class AotiFormat(ExportFormat):
    """model.pt2: torch.export with dynamic batch/node/edge axes, compiled by AOTInductor for this CPU."""

    name = "aoti"
    artifact = "model.pt2"
    default = False  # 6-13 s of C++ compilation per model on 2 cores: made when asked for
    is_code = True  # a compiled shared library that runs when the package is loaded
    load_needs = ()
    # load_aoti by hand: the clean interpreter may not import this project.
    reload_source = """
def run(path, names, cases):
    from torch._inductor import aoti_load_package
    model = aoti_load_package(path)
    with torch.inference_mode():
        return [model(*case).clone() for case in cases]
"""

    def is_current(self, entry: dict) -> bool:
        """Built by this torch: another's package may not load (torch.export's own warning)."""
        return entry.get("torch") == torch.__version__

    def unavailable_reason(self) -> str:
        """No C++ compiler here (loading needs none: only exporting is unavailable)."""
        return compiler_missing()

    def save(self, model: nn.Module, spec: ModelSpec, example: Inputs, path: Path) -> Saved:
        """torch.export with every dynamic axis of `spec`, then AOTInductor into a temporary file beside
        `path`, renamed into place; CompilerMissing (before any work) when there is no C++ compiler."""
        compiler = _compiler()
        if not compiler:
            raise CompilerMissing(_missing_text())
        with quiet_inductor():
            from torch._inductor import aoti_compile_and_package
        started = time.perf_counter()
        # What inductor warns (e.g. that complex operators, an STFT's, stay eager) goes in the manifest.
        with quiet_inductor(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            program = torch.export.export(model.eval(), example, dynamic_shapes=dynamic_shapes(spec))
            exported = time.perf_counter()
            # A buffer: aoti_compile_and_package only writes paths ending in .pt2, atomic_path's are .tmp.
            # no_grad: inductor honours `freezing` only when grad is off (compile_fx), else ignores it.
            with atomic_path(path) as tmp, open(tmp, "wb") as fh, torch.no_grad():
                aoti_compile_and_package(program, package_path=fh, inductor_configs=dict(INDUCTOR_CONFIGS))
        compiled = time.perf_counter()
        metadata = package_metadata(path)
        return Saved(EXPORTER, {
            "export_s": round(exported - started, 3),
            "compile_s": round(compiled - exported, 3),
            "torch": torch.__version__,
            "freezing": bool(INDUCTOR_CONFIGS["freezing"]),
            "dynamic_threads": bool(INDUCTOR_CONFIGS["cpp.dynamic_threads"]),
            "compiler": {"path": compiler, "version": compiler_version(compiler)},
            "device": str(metadata.get("AOTI_DEVICE_KEY", "cpu")),
            "cpu_isa": str(metadata.get("AOTI_CPU_ISA", "")),
            "dynamic_shapes": {t.name: t.dynamic_dims() for t in spec.inputs if t.dynamic_dims()},
            "compile_warnings": list(dict.fromkeys(
                str(w.message) for w in caught if issubclass(w.category, UserWarning))),
            "load_recipe": LOAD_RECIPE,
        })

    def run(self, path: Path, spec: ModelSpec, cases: list[Inputs]) -> list[torch.Tensor]:
        package_metadata(path)  # a clear line, not a C++ traceback, for a file that is no package
        model = load_aoti(path)
        with torch.inference_mode():
            return [model(*case) for case in cases]
