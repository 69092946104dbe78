"""The `bench` command line: thin Typer commands that build a config and call one library function."""

from __future__ import annotations

import importlib
import traceback

import typer
from typer.core import TyperGroup

from bench.errors import BenchError
from bench.report.console import err


class _ErrorsAsOneLine(TyperGroup):
    """Turns a BenchError from any command into one line on stderr and exit code 2."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except BenchError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                err.print(traceback.format_exc(), markup=False, highlight=False)
            err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None


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
            "report", "accuracy", "doctor")


def _register_commands() -> None:
    """Attach every command module's function to `app`."""
    for name in COMMANDS:
        function = name.replace("-", "_")
        module = importlib.import_module(f"bench.commands.{function}")
        app.command(name)(getattr(module, function))


_register_commands()


def main() -> None:
    """Console-script entry point."""
    app()
