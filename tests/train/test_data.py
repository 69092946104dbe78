"""Dataset loaders through their real on-disk formats: tiny fixtures, copies of ../shared/data, and the
one-line errors for missing (offline), read-only and corrupt data."""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path

import pytest
import torch

from tests.train_fixtures import copy_shared, make_cifar100, make_esc50
from train.data.audio import N_FRAMES, N_MELS, SpecAugment
from train.errors import BenchError


def _offline(*args, **kwargs):
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


# ---- ESC-50 -------------------------------------------------------------------------------------------

def test_esc50_folds_shapes_and_cache(tmp_path):
    from train.data.esc50 import load_esc50

    make_esc50(tmp_path)
    splits = load_esc50(tmp_path, download=False)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (6, 2, 2)  # folds 1-3 / 4 / 5
    x, y = splits.val[0]
    assert x.shape == (1, N_MELS, N_FRAMES) and 0 <= int(y) < 50
    # Per-band standardisation over time.
    assert torch.allclose(x.mean(dim=-1), torch.zeros(1, N_MELS), atol=1e-4)
    cached = list((tmp_path / "esc50" / "cache").glob("logmel-*.pt"))
    assert len(cached) == 1
    again = load_esc50(tmp_path, download=False)
    assert torch.equal(again.val[0][0], x)


def test_esc50_augments_train_only(tmp_path):
    from train.data.esc50 import load_esc50

    make_esc50(tmp_path)
    splits = load_esc50(tmp_path, download=False)
    torch.manual_seed(0)
    train_views = [splits.train[0][0] for _ in range(12)]
    assert any(not torch.equal(train_views[0], v) for v in train_views[1:])
    assert torch.equal(splits.val[0][0], splits.val[0][0])
    assert torch.equal(splits.test[1][0], splits.test[1][0])
    plain = load_esc50(tmp_path, augment=False, download=False)
    assert torch.equal(plain.train[0][0], plain.train[0][0])


def test_spec_augment_bounds():
    spec = torch.randn(1, N_MELS, N_FRAMES) + 5  # no zeros before masking
    torch.manual_seed(0)
    for _ in range(50):
        out = SpecAugment()(spec)
        zero_rows = int((out == 0).all(dim=-1).sum())
        zero_cols = int((out == 0).all(dim=-2).sum())
        assert zero_rows <= 8 and zero_cols <= 20
    always_roll = SpecAugment(p_shift=1.0, p_freq=0.0, p_time=0.0)
    rolled = always_roll(spec)
    shifts = [s for s in range(-25, 26) if torch.equal(torch.roll(spec, s, dims=-1), rolled)]
    assert len(shifts) == 1  # a roll of at most 5 % of 501 frames


def test_esc50_missing_audio_offline(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tv_utils

    csv = copy_shared("esc50", tmp_path)  # the real metadata, no audio: exactly the shared/ situation
    monkeypatch.setattr(tv_utils, "download_and_extract_archive", _offline)
    from train.data.esc50 import load_esc50

    with pytest.raises(BenchError) as info:
        load_esc50(csv, download=True)
    message = str(info.value)
    assert "ESC-50" in message and "--data-dir" in message and "esc50/audio" in message
    assert "\n" not in message


def test_esc50_corrupt_wav(tmp_path):
    from train.data.esc50 import load_esc50

    make_esc50(tmp_path)
    victim = next((tmp_path / "esc50" / "audio").glob("*.wav"))
    victim.write_bytes(b"not a wav file")
    with pytest.raises(BenchError, match="corrupt"):
        load_esc50(tmp_path, download=False)


# ---- CIFAR-100 ----------------------------------------------------------------------------------------

def test_cifar100_split_and_transforms(tmp_path):
    from train.data.cifar100 import load_cifar100

    make_cifar100(tmp_path, train=40, test=20)
    splits = load_cifar100(tmp_path, val_fraction=0.1, split_seed=42, download=False)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (36, 4, 20)
    x, y = splits.val[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and 0 <= y < 100
    assert torch.equal(splits.val[0][0], splits.val[0][0])  # no augmentation outside train
    torch.manual_seed(0)
    views = [splits.train[0][0] for _ in range(5)]
    assert any(not torch.equal(views[0], v) for v in views[1:])
    # The split is seeded: same seed, same validation images; another seed, others.
    same = load_cifar100(tmp_path, val_fraction=0.1, split_seed=42, download=False)
    other = load_cifar100(tmp_path, val_fraction=0.1, split_seed=7, download=False)
    assert same.val.indices == splits.val.indices and other.val.indices != splits.val.indices


def test_cifar100_offline(tmp_path, monkeypatch):
    from train.data import cifar100

    monkeypatch.setattr(cifar100._CIFAR100Files, "download", _offline)
    with pytest.raises(BenchError) as info:
        cifar100.load_cifar100(tmp_path, 0.1, 42, download=True)
    assert "CIFAR-100" in str(info.value) and "--data-dir" in str(info.value)
    assert "cifar-100-python" in str(info.value)


def test_cifar100_corrupt_pickle(tmp_path):
    from train.data.cifar100 import load_cifar100

    make_cifar100(tmp_path)
    (tmp_path / "cifar100" / "cifar-100-python" / "train").write_bytes(b"garbage")
    with pytest.raises(BenchError, match="corrupt"):
        load_cifar100(tmp_path, 0.1, 42, download=False)


# ---- Cora ---------------------------------------------------------------------------------------------

def test_cora_public_split(tmp_path):
    from train.data.cora import load_cora

    data = load_cora(copy_shared("cora", tmp_path), download=False)
    assert (data.num_nodes, data.num_edges, data.num_node_features) == (2708, 10556, 1433)
    assert [int(m.sum()) for m in (data.train_mask, data.val_mask, data.test_mask)] == [140, 500, 1000]


def test_cora_offline_error_is_one_line(tmp_path, monkeypatch):
    from torch_geometric.datasets import Planetoid

    from train.data.cora import load_cora

    monkeypatch.setattr(Planetoid, "download", _offline)
    with pytest.raises(BenchError) as info:
        load_cora(tmp_path / "empty", download=True)
    message = str(info.value)
    assert message.startswith("Cora not found") and "--data-dir" in message and "cora/raw" in message
    assert "\n" not in message


def test_cora_missing_without_download(tmp_path):
    from train.data.cora import load_cora

    with pytest.raises(BenchError, match="Cora not found .*downloads off.*--data-dir"):
        load_cora(tmp_path, download=False)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_data_dir_is_refused(tmp_path):
    from train.data.cora import load_cora

    data_dir = copy_shared("cora", tmp_path / "ro")
    os.chmod(data_dir / "cora", 0o555)
    try:
        with pytest.raises(BenchError, match="read-only|cannot"):
            load_cora(data_dir, download=False)
    finally:
        os.chmod(data_dir / "cora", 0o755)


# ---- MNIST --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory) -> Path:
    return copy_shared("mnist", tmp_path_factory.mktemp("mnist"))


def test_mnist_split_and_normalisation(mnist_dir):
    from train.data.mnist import load_mnist

    splits = load_mnist(mnist_dir, val_fraction=0.1, split_seed=42, download=False)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (54000, 6000, 10000)
    x, y = splits.test[0]
    assert x.shape == (1, 28, 28) and int(y) == 7  # the first MNIST test digit is a 7
    small = load_mnist(mnist_dir, 0.1, 42, train_subset=100, eval_subset=50, download=False)
    assert (len(small.train), len(small.val), len(small.test)) == (100, 50, 50)


def test_mnist_offline(tmp_path, monkeypatch):
    from torchvision.datasets import MNIST

    from train.data.mnist import load_mnist_tensors

    monkeypatch.setattr(MNIST, "download", _offline)
    with pytest.raises(BenchError) as info:
        load_mnist_tensors(tmp_path, download=True)
    assert "MNIST not found" in str(info.value) and "--data-dir" in str(info.value)


def test_mnist_truncated_file_is_corrupt(tmp_path):
    from train.data.mnist import load_mnist_tensors

    data_dir = copy_shared("mnist", tmp_path)
    raw = data_dir / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01")
    with pytest.raises(BenchError, match="corrupt.*t10k-labels"):
        load_mnist_tensors(data_dir, download=False)


def test_unwritable_data_dir_is_one_line(tmp_path):
    from train.data.cora import load_cora

    (tmp_path / "cora").write_text("a file where the dataset folder should be")
    with pytest.raises(BenchError, match="cannot create .*--data-dir"):
        load_cora(tmp_path, download=True)
