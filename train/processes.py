"""Child processes that never outlive their parent, and termination signals handled like Ctrl-C.

Every long child `bench` starts (the pytest-benchmark suite, the per-row memory worker, the clean-interpreter
reload of an export) gets its pid in the environment so it can die with its parent: the suite runs in its
own session (a terminal's Ctrl-C reaches only `bench`, which forwards exactly one SIGINT), which also shields
it from a process-group kill (CI timeouts, `timeout`); without this it would run on alone, skewing the next
run's timings. `terminate_as_interrupt` turns SIGTERM/SIGHUP into the Ctrl-C path that keeps finished work.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
TERMINATING_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
                            if s is not None)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is, so every Ctrl-C path (keep finished rows, keep the
    complete checkpoint, stop children) also runs for them; the exit code is 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


_last_terminating: list[int] = []  # the SIGTERM/SIGHUP `terminate_as_interrupt` turned into Terminated


def last_stop_signal() -> int:
    """The signal behind the latest interrupt in this process: the last SIGTERM/SIGHUP raised as Terminated,
    else SIGINT (code that caught the KeyboardInterrupt long ago can still exit 128 + the right number)."""
    return _last_terminating[-1] if _last_terminating else int(signal.SIGINT)


def interrupt_exit_code(exc: BaseException) -> int:
    """128 + the signal that ended the command: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return exc.exit_code if isinstance(exc, Terminated) else 128 + signal.SIGINT


def interrupt_name(exc: BaseException) -> str:
    """'Ctrl-C', 'SIGTERM' or 'SIGHUP': what stopped the command, for its message."""
    return signal.Signals(exc.signum).name if isinstance(exc, Terminated) else "Ctrl-C"


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While inside: SIGTERM and SIGHUP raise `Terminated` (a KeyboardInterrupt) instead of killing the
    process outright. Only the main thread may install handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum, frame) -> None:
        _last_terminating.append(signum)
        raise Terminated(signum)

    previous = {s: signal.signal(s, raise_terminated) for s in TERMINATING_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


PARENT_ENV = "BENCH_PARENT_PID"  # set by `child_env`, read (and removed) by `die_with_parent` in the child


def child_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child that must not outlive this process: `env` (default: ours) plus our pid,
    which the child hands to `die_with_parent` first thing."""
    return {**(os.environ if env is None else env), PARENT_ENV: str(os.getpid())}


def die_with_parent() -> None:
    """In a child started with `child_env`: SIGKILL when the parent dies (Linux; even a SIGKILLed parent),
    and SIGINT's default action back, so the parent's forwarded interrupt is not lost to a SIGINT a
    `nohup … &` parent passed on ignored. Done in the child, not in a pre-exec hook: the parents have torch
    threads running, and code between fork and exec can deadlock on a lock one of them held."""
    parent = os.environ.pop(PARENT_ENV, "")  # popped: a grandchild started without child_env must not see it
    if not parent.isdigit():
        return
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        # The parent may have died before prctl: nobody would send the signal then.
        if os.getppid() != int(parent):
            os._exit(1)


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists (ours or another user's)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def environment_variable(name: str, value: str) -> Iterator[None]:
    """`name`=`value` in this process's environment (and its children's) while the block runs; the
    previous value, or its absence, is put back afterwards."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before
