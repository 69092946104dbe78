"""The `bench` command line: thin Typer commands that build a config and call one library function."""

from __future__ import annotations

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


def _register_commands() -> None:
    """Attach every command module's functions to `app`."""
    from bench.commands import compare, env, export, models, run

    app.command("models")(models.models)
    app.command("env")(env.env)
    app.command("compare")(compare.compare)
    app.command("export")(export.export)
    app.command("run")(run.run)

    from bench.commands import baselines, lr_find, sanity, sweep, train

    app.command("train")(train.train)
    app.command("lr-find")(lr_find.lr_find)
    app.command("sweep")(sweep.sweep)
    app.command("sanity")(sanity.sanity)
    app.command("baselines")(baselines.baselines)

    from bench.commands import report

    app.command("report")(report.report)

    from bench.commands import accuracy

    app.command("accuracy")(accuracy.accuracy)


_register_commands()


def main() -> None:
    """Console-script entry point."""
    app()
