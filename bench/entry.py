"""The `bench` console script: signals and interrupts handled before the (slow) imports start.

An interrupt while torch and numpy import is held until the imports are done, then ends the command in one
line and 128 + the signal's number: raised inside a C extension's import it leaves numpy half-imported
(a RecursionError), or is swallowed and the command runs anyway. After that, SIGTERM and SIGHUP take the
Ctrl-C path (finished work kept, children stopped). Only the standard library and train.processes are
imported before this is in place.
"""

from __future__ import annotations

import signal
import sys

from train.processes import (
    TERMINATING_SIGNALS,
    Terminated,
    interrupt_exit_code,
    interrupt_name,
    terminate_as_interrupt,
)


def main() -> None:
    """Console-script entry point (`bench`, `python -m bench`)."""
    app = _import_app()
    with terminate_as_interrupt():
        try:
            app()
        except KeyboardInterrupt as stop:
            _stopped(stop)


def _import_app():
    """`bench.cli.app`, imported with SIGINT, SIGTERM and SIGHUP held; the first one that came in the
    meantime then stops the command."""
    held: list[int] = []
    watched = [s for s in (signal.SIGINT, *TERMINATING_SIGNALS)
               if signal.getsignal(s) is not signal.SIG_IGN]  # an ignored signal stays ignored (nohup)
    previous = {s: signal.signal(s, lambda signum, frame: held.append(signum)) for s in watched}
    try:
        from bench.cli import app
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if held:
        _stopped(Terminated(held[0]) if held[0] != signal.SIGINT else KeyboardInterrupt())
    return app


def _stopped(stop: BaseException) -> None:
    """One line on stderr and exit 128 + the signal."""
    sys.stderr.write(f"interrupted ({interrupt_name(stop)}); nothing further was done\n")
    sys.exit(interrupt_exit_code(stop))


if __name__ == "__main__":
    main()
