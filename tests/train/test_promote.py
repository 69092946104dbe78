"""Promoting a complete training run replaces the checkpoint and the record together, or neither."""

from __future__ import annotations

import pytest

from train.errors import BenchError
from train.runs import promote


def test_a_failed_record_write_puts_the_old_checkpoint_back(tmp_path):
    run_ckpt, ckpt, record = tmp_path / "run.pt", tmp_path / "model.pt", tmp_path / "model.json"
    run_ckpt.write_bytes(b"new weights")
    ckpt.write_bytes(b"old weights")
    record.mkdir()  # the record cannot be replaced: the second rename fails
    with pytest.raises(BenchError, match="cannot promote .*earlier files left intact"):
        promote(run_ckpt, ckpt, record, "{}")
    assert ckpt.read_bytes() == b"old weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.pt", "run.pt"]  # no temp files


def test_without_an_earlier_checkpoint_a_failed_promotion_leaves_none(tmp_path):
    run_ckpt, ckpt, record = tmp_path / "run.pt", tmp_path / "model.pt", tmp_path / "model.json"
    run_ckpt.write_bytes(b"new weights")
    record.mkdir()
    with pytest.raises(BenchError):
        promote(run_ckpt, ckpt, record, "{}")
    assert not ckpt.exists()


def test_a_promotion_replaces_both(tmp_path):
    run_ckpt, ckpt, record = tmp_path / "run.pt", tmp_path / "model.pt", tmp_path / "model.json"
    run_ckpt.write_bytes(b"new weights")
    ckpt.write_bytes(b"old weights")
    record.write_text("old")
    promote(run_ckpt, ckpt, record, "new")
    assert (ckpt.read_bytes(), record.read_text()) == (b"new weights", "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.pt", "run.pt"]
