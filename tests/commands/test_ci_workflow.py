"""The GitHub Actions workflow users copy: valid against GitHub's workflow schema (check-jsonschema's
vendored copy, offline), every `bench` command in it parses with today's options, and the gate's exit
status is not swallowed by a pipe."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.cli import app

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "bench.yml"


def _lint(path: Path) -> subprocess.CompletedProcess:
    beside = Path(sys.executable).parent / "check-jsonschema"  # this venv's, PATH or not
    linter = str(beside) if beside.exists() else shutil.which("check-jsonschema")
    if linter is None:
        pytest.skip("check-jsonschema is not installed (pip install -e '.[dev]')")
    return subprocess.run([linter, "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=120)


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _steps() -> list[dict]:
    return [step for job in _workflow()["jobs"].values() for step in job["steps"]]


def test_the_workflow_passes_githubs_schema_and_a_broken_one_does_not(tmp_path):
    result = _lint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = _workflow()
    broken["jobs"]["benchmark"]["steps"][0] = {"uses": "actions/checkout@v4", "wiht": {"depth": 1}}
    broken["jobs"]["benchmark"]["timeout-minutes"] = "an hour"
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump(broken))
    assert _lint(bad).returncode != 0  # the linter does catch mistakes


def _bench_commands() -> list[list[str]]:
    """Every `bench …` command line of the workflow's run steps, shell pipes and redirections cut off."""
    commands = []
    for step in _steps():
        for line in step.get("run", "").splitlines():
            if line.strip().split(" ")[0].endswith("bin/bench"):
                commands.append(shlex.split(line.split("|")[0].split(">>")[0])[1:])
    return commands


def test_every_bench_command_of_the_workflow_uses_options_that_exist():
    import typer.main

    commands = _bench_commands()
    assert [c[0] for c in commands] == ["run", "compare"]
    group = typer.main.get_command(app)
    for words in commands:
        command = group.commands[words[0]]
        known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        given = {w.split("=")[0] for w in words[1:] if w.startswith("--")}
        assert given <= known, f"bench {words[0]}: unknown {sorted(given - known)}"
        # And the whole line parses (arguments, values), as the runner will hand it over.
        command.make_context(f"bench {words[0]}", list(words[1:]), resilient_parsing=False)


def test_the_gate_fails_the_job_and_history_uses_pytest_benchmarks_format():
    job = _workflow()["jobs"]["benchmark"]
    # GitHub's default `bash -e` has no pipefail: `compare | tee` would always pass.
    assert job["defaults"]["run"]["shell"] == "bash"
    gate = next(s for s in _steps() if "bench compare" in s.get("run", ""))
    assert "--fail-above" in gate["run"] and "pull_request" in gate["if"]
    publish = next(s for s in _steps() if s.get("uses", "").startswith("benchmark-action/"))
    assert publish["with"]["tool"] == "pytest"
    assert publish["with"]["output-file-path"] == "bench.json"
