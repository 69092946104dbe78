"""The `bench` command line: thin Typer commands that build a config and call one library function."""

from __future__ import annotations

import importlib
import math
import traceback

import typer
from typer.core import TyperGroup

try:  # typer >= 0.20 vendors click; older releases use the click package
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - depends on the installed typer
    from click.exceptions import UsageError

from bench.errors import BenchError
from bench.report.console import err
from train.processes import interrupt_exit_code, interrupt_name


class _ErrorsAsOneLine(TyperGroup):
    """Turns a BenchError from any command into one line on stderr and exit code 2; no float option of any
    command takes inf or NaN (an infinite budget never ends, NaN compares false with every bound), and flags
    show no value type in help."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for command in self.commands.values():
            for param in command.params:
                param.callback = _finite(param.callback)
                if getattr(param, "is_flag", False):
                    param.metavar = ""  # a flag takes no value: help must not show `<bool>` (`--plots true`)

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except BenchError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                err.print(traceback.format_exc(), markup=False, highlight=False)
            err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except UsageError as exc:  # a mistyped option or argument: one line too, not click's box
            # "bench <command>" whatever the program was called (python -m bench, a test runner)
            where = " ".join(["bench", *exc.ctx.command_path.split()[1:]]) if exc.ctx is not None else "bench"
            message = exc.format_message().rstrip(".")
            err.print(f"error: {message} (see `{where} --help`)", markup=False, highlight=False,
                      soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM/SIGHUP (bench.entry): not click's "Aborted!"
            err.print(f"interrupted ({interrupt_name(stop)})", markup=False, highlight=False)
            raise typer.Exit(interrupt_exit_code(stop)) from None


def _finite(callback):
    """Wrap a parameter callback: a non-finite float is a BenchError naming the option."""

    def check(ctx, param, value):
        if isinstance(value, float) and not math.isfinite(value):
            raise BenchError(f"{param.opts[-1]} must be a finite number, got {value}")
        return callback(ctx, param, value) if callback else value

    return check


app = typer.Typer(
    cls=_ErrorsAsOneLine,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    help="Train the reference models, export them to TorchScript and ONNX, and benchmark them.",
)


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    ctx.obj = {"debug": debug}


# Command name -> its module in bench/commands (the function has the module's name, dashes as underscores),
# in the order `bench --help` lists them.
COMMANDS = ("models", "env", "compare", "export", "run", "train", "lr-find", "sweep", "sanity", "baselines",
            "report", "reproduce", "accuracy", "doctor", "merge")


def _register_commands() -> None:
    """Attach every command module's function to `app`."""
    for name in COMMANDS:
        function = name.replace("-", "_")
        module = importlib.import_module(f"bench.commands.{function}")
        app.command(name)(getattr(module, function))


_register_commands()


def main() -> None:
    """Entry point kept for `bench.cli:main` callers: the same as the console script (bench.entry)."""
    from bench.entry import main as entry_main

    entry_main()
