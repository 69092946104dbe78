"""The host allocator setting: retain keeps freed memory (no faults on reuse), system faults it back in;
faults per call are counted on real page faults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import bench.measure.allocator as allocator
from bench.errors import BenchError
from bench.run.config import RunConfig

GLIBC = allocator._glibc() is not None

# In a fresh interpreter: the setting is process-wide and must come before the allocations it governs.
_REUSE = textwrap.dedent("""
    import json, sys, torch
    from bench.measure.allocator import apply_allocator, minor_faults
    said = apply_allocator(sys.argv[1])
    counts = []
    for _ in range(20):
        before = minor_faults()
        block = torch.ones(10 * 1024 * 1024)  # 40 MiB: above glibc's largest mmap threshold (32 MiB)
        del block
        counts.append(minor_faults() - before)
    print(json.dumps({"said": said, "faults": counts}))
""")


def _reuse(setting: str) -> dict:
    """The faults of 20 allocate-touch-free cycles of 40 MiB under `setting`, in a fresh interpreter."""
    proc = subprocess.run([sys.executable, "-c", _REUSE, setting], capture_output=True, text=True, check=True,
                          env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not GLIBC, reason="the retain setting needs glibc's mallopt")
def test_retain_reuses_freed_memory_where_system_faults_it_back_in():
    kept, system = _reuse("retain"), _reuse("system")
    assert kept["said"].startswith("glibc, freed memory kept")
    assert system["said"].startswith("the C library's defaults")
    # Once warm (glibc's aligned blocks find a freed one to reuse only after some cycles: 8 here) retain
    # hands the same pages back; system mmaps them afresh and faults every page in again.
    kept_warm, system_warm = kept["faults"][-3:], system["faults"][-3:]
    assert all(count < 256 for count in kept_warm), kept
    # 40 MiB of 4 KiB pages: 10,240 faults; with transparent huge pages always on, 2 MiB ones: 20.
    assert all(count >= 20 for count in system_warm) and sum(system_warm) > 10 * (sum(kept_warm) + 1), system


def test_faults_per_call_counts_the_pages_a_call_touches_afresh():
    import mmap

    pages, page = 512, mmap.PAGESIZE

    def touch_fresh_pages() -> None:
        region = mmap.mmap(-1, pages * page)
        if hasattr(mmap, "MADV_NOHUGEPAGE"):
            region.madvise(mmap.MADV_NOHUGEPAGE)  # one fault per small page, whatever THP is set to
        for offset in range(0, pages * page, page):
            region[offset] = 1
        region.close()

    if allocator.minor_faults() is None:
        pytest.skip("getrusage is not available on this platform")
    measured = allocator.faults_per_call(touch_fresh_pages, seconds_per_call=0.01, target_s=0.05)
    assert pages <= measured <= pages * 1.2
    assert allocator.faults_per_call(lambda: None, seconds_per_call=1e-6, target_s=0.01) < 1


def test_an_unknown_or_unavailable_setting_is_one_clear_error(monkeypatch):
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    with pytest.raises(BenchError, match=r"--allocator must be one of retain, system, got 'tcmalloc'"):
        RunConfig(allocator="tcmalloc")
    monkeypatch.setattr(allocator, "_glibc", lambda: None)  # macOS, musl: no mallopt
    assert allocator.default_allocator() == "system"
    with pytest.raises(BenchError, match=r"--allocator retain needs glibc's mallopt.*use --allocator system"):
        allocator.check_allocator("retain")
    assert allocator.apply_allocator("system").startswith("the C library's defaults")


def test_a_preloaded_allocator_is_named_instead_of_the_glibc_setting(monkeypatch):
    monkeypatch.setenv("LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2")
    assert allocator.preloaded_allocator() == "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
    said = allocator.apply_allocator("system")
    assert said.startswith("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 (LD_PRELOAD")
    monkeypatch.setenv("LD_PRELOAD", "libfoo.so")
    assert allocator.preloaded_allocator() is None


@pytest.mark.skipif(not GLIBC, reason="the default is retain only where glibc is")
def test_the_run_config_defaults_to_retain_and_keeps_an_explicit_choice():
    assert RunConfig().allocator == "retain"
    assert RunConfig(allocator="system").allocator == "system"
    assert RunConfig.from_dict(RunConfig(allocator="system").to_dict()).allocator == "system"
