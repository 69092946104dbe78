"""Shared test set-up: the `cuda` marker skips without a GPU; where the real data lives."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# The repo is cloned beside shared/ (CI and the developers' machines); a user's clone has none.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked `cuda` when torch sees no CUDA device."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA; torch.cuda.is_available() is False here")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


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
