"""The `bench` console script: signals and interrupts handled before the (slow) imports start.

SIGTERM and SIGHUP become the Ctrl-C path (finished work kept, children stopped), and an interrupt at any
point, even while torch is still importing, ends in one line and 128 + the signal's number, not a
traceback. Only the standard library and train.processes are imported before that is in place.
"""

from __future__ import annotations

import sys

from train.processes import interrupt_exit_code, interrupt_name, terminate_as_interrupt


def main() -> None:
    """Console-script entry point (`bench`, `python -m bench`)."""
    with terminate_as_interrupt():
        try:
            from bench.cli import app

            app()
        except KeyboardInterrupt as stop:
            sys.stderr.write(f"interrupted ({interrupt_name(stop)}); nothing further was done\n")
            sys.exit(interrupt_exit_code(stop))


if __name__ == "__main__":
    main()
