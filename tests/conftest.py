"""Shared test set-up: the `cuda` marker skips without a GPU; where the real data lives."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import torch

from export.trust import TRUST_STORE_ENV

# The repo is cloned beside shared/ (CI and the developers' machines); a user's clone has none.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def pytest_configure(config: pytest.Config) -> None:
    """The tests' exports go to a trust store of their own, never the developer's (export/trust.py); the
    `bench run` children the tests start inherit it."""
    os.environ[TRUST_STORE_ENV] = str(Path(tempfile.mkdtemp(prefix="bench-tests-trust-")) / "trusted")


def _tree(root: Path) -> list[str]:
    """Every path under `root`, relative, sorted (files and folders)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture(scope="session", autouse=True)
def shared_data_stays_untouched():
    """../shared/data is read-only to the project: a test (or a command it runs) that writes into it, as a
    loader staging its files there would, fails the session instead of passing on a polluted copy."""
    before = _tree(SHARED_DATA) if SHARED_DATA.is_dir() else None
    yield
    if before is not None:
        added = sorted(set(_tree(SHARED_DATA)) - set(before))
        assert not added, f"tests wrote into {SHARED_DATA}: {', '.join(added[:5])}"


def _ort_cuda_missing() -> str:
    """Why ONNX Runtime cannot run on CUDA here ("" when it can be tried)."""
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        return (f"needs ONNX Runtime's CUDA provider; onnxruntime {onnxruntime.__version__} offers "
                f"{', '.join(onnxruntime.get_available_providers())}")
    return ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked `cuda` when torch sees no CUDA device, and `ort_cuda` ones also without ORT's
    CUDA provider (the GPU image's onnxruntime is a CPU build)."""
    cuda = torch.cuda.is_available()
    ort_reason = _ort_cuda_missing() if cuda and any("ort_cuda" in i.keywords for i in items) else ""
    for item in items:
        if not cuda and ("cuda" in item.keywords or "ort_cuda" in item.keywords):
            item.add_marker(pytest.mark.skip(reason="needs CUDA; torch.cuda.is_available() is False here"))
        elif ort_reason and "ort_cuda" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=ort_reason))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the repo, or skip: a user's clone has no ../shared (CI has it)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA} (only CI and dev machines have ../shared)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mnist_mlp_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder holding a current export of mnist-mlp (untrained, seed 0), made once per session."""
    from export.pipeline import export_model
    from train.registry import get_model

    results = tmp_path_factory.mktemp("results")
    # fresh_process=False: the export tests cover the clean-interpreter reload; here it would only cost time.
    export_model(get_model("mnist-mlp"), results / "exports", seed=0, fresh_process=False)
    return results
