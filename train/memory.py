"""Peak resident memory of a block of work on the CPU, sampled: what report 002's memory axis needs when
there is no CUDA allocator to ask (ru_maxrss cannot be reset between runs of one process)."""

from __future__ import annotations

import os
import threading
from types import TracebackType

SAMPLE_S = 0.005  # 5 ms: a training step here takes 5-50 ms, so a step's peak is seen, not guessed
# Anonymous pages only (RSS less file-backed ones): what training allocates. Total RSS also counts library
# pages the kernel may drop under memory pressure, which can hide part of an allocation.
METHOD = ("process anonymous RSS sampled every 5 ms during the training loop, above its value when the loop "
          "started")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int | None:
    """This process's anonymous resident memory now (bytes: resident less file-backed and shared pages),
    from /proc (Linux); None where there is no /proc."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            fields = statm.read().split()
        return (int(fields[1]) - int(fields[2])) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


class ResidentPeak:
    """`with ResidentPeak() as peak: ...` then `peak.bytes`: the largest RSS seen while inside, above the
    RSS on entry (None where RSS cannot be read); `peak.method` says how it was measured. It counts memory
    newly made resident: memory the process already held and reuses (a long-lived process's freed heap)
    does not show, so it is meant for a training command's own process, as `bench train` runs it."""

    def __init__(self, interval_s: float = SAMPLE_S) -> None:
        self.interval_s = interval_s
        self.bytes: int | None = None
        self.method = METHOD
        self._start: int | None = None
        self._highest = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ResidentPeak:
        self._start = resident_bytes()
        if self._start is not None:
            self._highest = self._start
            self._thread = threading.Thread(target=self._sample, name="rss-peak", daemon=True)
            self._thread.start()
        else:  # ru_maxrss is the process's lifetime peak, not this loop's: not a per-run figure
            self.method = "not measured: this system has no /proc/self/statm"
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            now = resident_bytes()
            if now is not None and now > self._highest:
                self._highest = now

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            last = resident_bytes()
            self._highest = max(self._highest, last or 0)
            self.bytes = self._highest - (self._start or 0)
