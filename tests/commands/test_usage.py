"""Usage mistakes read like every other bad input: one `error:` line naming the fix, exit 2; help shows
no value type for flags (`--plots`, not `--plots <bool>`)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from bench.cli import COMMANDS, app


@pytest.mark.parametrize(("args", "expected"), [
    (["report", "--plots", "true"],
     "error: Got unexpected extra argument(s) (true) (see `bench report --help`)"),
    (["runn"], "error: No such command 'runn'. Did you mean 'run'? (see `bench --help`)"),
    (["run", "--qqq"], "error: No such option: --qqq (see `bench run --help`)"),
    (["train"], "error: Missing argument 'dataset' (see `bench train --help`)"),
])
def test_a_usage_mistake_is_one_line_and_exit_2(args, expected):
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert result.output.strip() == expected


def test_every_command_is_registered_and_no_flag_shows_a_value_type():
    group = typer.main.get_command(app)
    assert sorted(group.commands) == sorted(COMMANDS)
    flags = 0
    for name in COMMANDS:
        help_text = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "200"}).output
        # typer builds --help itself, at each call: that one line is out of reach
        lines = [line for line in help_text.splitlines() if "Show this message and exit" not in line]
        assert not [line for line in lines if "<bool>" in line], name
        flags += sum(bool(getattr(p, "is_flag", False)) for p in group.commands[name].params)
    assert flags >= 10  # the check saw real flags (--plots, --memory/--no-memory, --download, …)


@pytest.mark.parametrize("fmt", ["markdown", "csv", "json"])
def test_text_formats_end_on_a_newline_so_stderr_lines_stay_apart(fmt):
    result = CliRunner().invoke(app, ["models", "--format", fmt])
    assert result.exit_code == 0 and result.stdout.endswith("\n") and not result.stdout.endswith("\n\n\n")
