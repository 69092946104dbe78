"""Atomic writes keep the earlier file when a write fails."""

import json

import pytest

from train.errors import BenchError
from train.fileio import write_json, write_text, write_with


def test_write_json_round_trip(tmp_path):
    target = tmp_path / "sub" / "a.json"
    write_json(target, {"x": 1})
    assert json.loads(target.read_text()) == {"x": 1}
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a.txt"
    write_text(target, "old")

    def boom(fh):
        fh.write(b"partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_with(target, boom)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_disk_full_is_one_clear_error(tmp_path):
    target = tmp_path / "a.txt"
    write_text(target, "old")

    def disk_full(fh):
        raise OSError(28, "No space left on device")

    with pytest.raises(BenchError, match="No space left on device.*intact"):
        write_with(target, disk_full)
    assert target.read_text() == "old"


def test_unwritable_directory_is_a_bench_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(BenchError, match="cannot write"):
        write_text(blocker / "inside.txt", "y")


def test_nan_is_refused(tmp_path):
    with pytest.raises(ValueError):
        write_json(tmp_path / "n.json", {"x": float("nan")})


def test_written_files_honour_the_umask(tmp_path):
    import os

    target = write_text(tmp_path / "a.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
