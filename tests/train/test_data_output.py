"""What loading a dataset leaves behind: no progress chatter from PyG on bench's output, and no empty
folders after a load that failed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from torchvision.datasets import MNIST

from tests.train_fixtures import copy_shared
from train.config import configs_for
from train.data.registry import load_data
from train.errors import BenchError


def test_first_cora_processing_prints_nothing(tmp_path):
    data = copy_shared("cora", tmp_path / "data")
    # The raw files only (../shared/data/cora holds no processed pyg/ folder; a copy that did would lose it
    # here): PyG processes them on this first load.
    shutil.rmtree(data / "cora" / "pyg", ignore_errors=True)
    # In a process of its own, without pytest's marker: PyG prints its progress only outside tests.
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    code = ("from pathlib import Path; from train.data.cora import load_cora; "
            f"print(load_cora(Path({str(data)!r}), download=False).num_nodes)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2], env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2708\n" and done.stderr == "", (done.stdout, done.stderr)


def test_a_failed_download_leaves_no_empty_folder(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()  # an existing data folder (~/.cache/bench/data) stays; what the failed load made goes
    # Nothing listens on port 9 of this machine: the download fails at once, as it does offline.
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])
    (cfg,) = configs_for("mnist", ["mnist-mlp"])
    with pytest.raises(BenchError, match="MNIST not found .* its download failed"):
        load_data(cfg, data, download=True)
    assert list(data.iterdir()) == []
    with pytest.raises(BenchError):
        load_data(cfg, tmp_path / "new" / "data", download=True)
    assert not (tmp_path / "new").exists()  # a data folder the load created is removed with it
