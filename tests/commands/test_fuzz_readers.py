"""Fuzz every reader of the files bench keeps with mutated REAL files, through the real commands.

Each test starts from a real file (a `bench run` JSON of tests/records/data and results/, an export manifest
written by a real `bench export mnist-mlp`, a packaged train config, a checkpoint written by
`train.checkpoint.save_checkpoint`), mutates it (JSON values swapped for other types, nulls, NaN, huge
numbers, deleted keys; bytes flipped; the file cut short), runs the command that reads it and asserts the
contract of the bad-input catalogue: exit code 0, 1 or 2, never a traceback, and for 2 exactly one
`error:` line. Hypothesis runs derandomized (the same examples every run) and keeps no database.

The manifest is the one reader no cheap command reaches alone (`bench run` re-exports, then starts the
suites: about 15 s a run), so its fuzz calls what `bench run` and its suites call on a manifest: the
staleness check, `ensure_exported(reuse=True)` and every runtime's `load`; the catalogue runs the real
`bench run` over malformed manifests.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import pickle
import shutil
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bench.cli import app
from bench.errors import BenchError

ROOT = Path(__file__).resolve().parents[2]
RUN_FILES = (ROOT / "tests" / "records" / "data" / "run_schema1_cpu.json",  # schema 1: the migration path
             ROOT / "results" / "example-h200-cuda-transfer.json")  # schema 2, CUDA, as `bench run` wrote it
CONFIGS = ("mnist", "cora")  # train/configs/<dataset>.yaml: overrides and model_kwargs, image and graph

# CI runs the default: the same examples every time. A long local hunt for new ones:
# BENCH_FUZZ_EXAMPLES=2000 BENCH_FUZZ_RANDOM=1 pytest tests/commands/test_fuzz_readers.py
EXAMPLES = int(os.environ.get("BENCH_FUZZ_EXAMPLES", "50"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("BENCH_FUZZ_RANDOM"),
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- the contract -------------------------------------------------------------------------------------------

def invoke(argv: list[str]):
    """Run the real CLI on `argv`; check the contract: exit 0/1/2, no traceback, one `error:` line for 2."""
    result = CliRunner().invoke(app, argv, env={"COLUMNS": "120"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(*result.exc_info))
        pytest.fail(f"bench {' '.join(argv)} crashed:\n{trace}\noutput:\n{result.output}")
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output
    assert len(errors) == (1 if result.exit_code == 2 else 0), result.output
    return result


# --- mutations ----------------------------------------------------------------------------------------------

# What a damaged or hand-edited file holds in place of a value: other JSON types, nulls, NaN, huge numbers.
ODD_VALUES = [None, "", "abc", "1e23", 0, -1, 1.5, 10**30, -(10**30), 1e308, float("nan"), float("inf"),
              -float("inf"), True, False, [], {}, [1, "x", None], {"x": 1}]


def paths(doc, prefix: tuple = (), per_list: int = 3) -> Iterator[tuple]:
    """Every path into `doc` (keys and list indices), lists cut to their first `per_list` items: the
    26th benchmark entry is shaped like the first."""
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from paths(value, (*prefix, key), per_list)
    elif isinstance(doc, list):
        for i, value in enumerate(doc[:per_list]):
            yield from paths(value, (*prefix, i), per_list)


def apply(doc, path: tuple, op: str, value):
    """`doc` with the value at `path` replaced by `value`, stringified, or deleted (skipped when an earlier
    mutation removed the path)."""
    if not path:
        return value if op == "replace" else doc
    parent = doc
    for step in path[:-1]:
        if not isinstance(parent, (dict, list)):  # an earlier edit put a value (or a tensor) here
            return doc
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return doc
    last = path[-1]
    present = (isinstance(parent, dict) and last in parent) or (
        isinstance(parent, list) and isinstance(last, int) and last < len(parent))
    if not present:
        return doc
    if op == "delete":
        del parent[last]
    elif op == "stringify":
        parent[last] = str(parent[last])
    else:
        parent[last] = value
    return doc


@dataclass(frozen=True)
class Damage:
    """What is done to a real file, small enough to read in a failure report: value edits (path, op, value)
    applied to the parsed document, or byte edits (position, new byte) and a cut applied to its bytes."""

    edits: tuple = ()
    flips: tuple = ()
    cut: int | None = None

    def to_bytes(self, doc, raw: bytes, dump) -> bytes:
        """The damaged file: `doc` edited and written with `dump`, or `raw` with its bytes changed."""
        if self.edits:
            out = copy.deepcopy(doc)
            for path, op, value in self.edits:
                out = apply(out, path, op, value)
            return dump(out)
        data = bytearray(raw)
        for pos, byte in self.flips:
            data[pos] = byte
        return bytes(data[:self.cut])


@st.composite
def value_damage(draw, doc_paths: list[tuple], values=ODD_VALUES) -> Damage:
    """1-3 values replaced, stringified or deleted."""
    edits = tuple((draw(st.sampled_from(doc_paths)), draw(st.sampled_from(["replace", "replace", "delete",
                                                                          "stringify"])),
                   draw(st.sampled_from(values))) for _ in range(draw(st.integers(1, 3))))
    return Damage(edits=edits)


@st.composite
def byte_damage(draw, size: int) -> Damage:
    """0-4 bytes changed (near the ends most: headers, indexes), the file cut short or not (at least one)."""
    near_ends = st.one_of(st.integers(0, min(size, 4096) - 1), st.integers(max(0, size - 4096), size - 1),
                          st.integers(0, size - 1))
    # Mostly printable replacements: the text stays UTF-8 and the parser, not the decoder, meets them.
    new_byte = st.one_of(st.sampled_from(b'"{}[],:0-9.e aZ\\'), st.integers(0, 255))
    flips = tuple((draw(near_ends), draw(new_byte)) for _ in range(draw(st.integers(0, 4))))
    cut = draw(near_ends) if not flips or draw(st.booleans()) else None
    return Damage(flips=flips, cut=cut)


def damage(doc, raw: bytes) -> st.SearchStrategy[Damage]:
    """Mostly value-level damage (the file parses, its shape is wrong), some byte-level."""
    values = value_damage(list(paths(doc)))
    return st.one_of(values, values, values, byte_damage(len(raw)))


def dump_json(doc) -> bytes:
    return json.dumps(doc).encode()


# --- bench report and bench compare: `bench run` JSON -------------------------------------------------------

RUN_DOCS = {path.name: json.loads(path.read_text()) for path in RUN_FILES}


@pytest.mark.parametrize("name", RUN_DOCS)
@FUZZ
@given(data=st.data())
def test_report_and_compare_survive_damaged_run_files(name, data):
    original = RUN_FILES[[p.name for p in RUN_FILES].index(name)]
    raw = original.read_bytes()
    content = data.draw(damage(RUN_DOCS[name], raw), label="damage").to_bytes(RUN_DOCS[name], raw, dump_json)
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results"
        (results / "benchmarks").mkdir(parents=True)
        damaged = results / "benchmarks" / "20260101T000000Z_cpu.json"
        damaged.write_bytes(content)
        invoke(["report", "--results-dir", str(results), "--format", "markdown"])
        invoke(["compare", str(original), str(damaged), "--format", "markdown"])
        invoke(["compare", str(damaged), str(original), "--format", "markdown"])


# --- bench accuracy: a checkpoint `bench train` wrote -------------------------------------------------------

class _CallsSystem:
    """A pickle that would run a shell command when unpickled without weights_only (`true`: harmless)."""

    def __reduce__(self):
        return (os.system, ("true",))


def _real_checkpoint() -> tuple[bytes, dict]:
    """(file bytes, payload) of a mnist-mlp checkpoint as `bench train` saves it: real config and weights."""
    from train.checkpoint import save_checkpoint
    from train.config import configs_for
    from train.registry import get_model

    (cfg,) = configs_for("mnist", ["mnist-mlp"])
    model = get_model("mnist-mlp").build(seed=0, **cfg.model_kwargs)
    with tempfile.TemporaryDirectory() as tmp:
        path = save_checkpoint(Path(tmp) / "mnist-mlp.pt", "mnist-mlp", model.state_dict(), cfg.to_dict(),
                               {"test_acc": 0.9, "val_acc": 0.9}, cfg.model_kwargs)
        return path.read_bytes(), torch.load(path, weights_only=True)


CHECKPOINT_BYTES, CHECKPOINT = _real_checkpoint()
# In place of a tensor or a value: tensors of other shapes and dtypes, NaN weights, a refused object.
ODD_CHECKPOINT_VALUES = [*ODD_VALUES, torch.zeros(3, 3), torch.zeros(0), torch.full((10,), float("nan")),
                         torch.zeros(128, 784, dtype=torch.int64), _CallsSystem()]


def _saved(payload) -> bytes:
    """`payload` as torch.save writes it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.pt"
        torch.save(payload, path)
        return path.read_bytes()


PAYLOAD_PATHS = [p for p in paths(CHECKPOINT) if not (len(p) > 2 and p[0] == "state_dict")]
# Files that are no checkpoint at all: empty, a bare pickle of a dict, pickles that would call os.system.
FOREIGN = [b"", b"\x80\x02}q\x00.", pickle.dumps(_CallsSystem(), protocol=2),
           pickle.dumps(_CallsSystem(), protocol=4), json.dumps({"model": 1}).encode()]


def checkpoint_damage() -> st.SearchStrategy[Damage | bytes]:
    """Payload values swapped (then saved by torch.save), bytes changed or cut, or a foreign file."""
    values = value_damage(PAYLOAD_PATHS, ODD_CHECKPOINT_VALUES)
    return st.one_of(values, values, byte_damage(len(CHECKPOINT_BYTES)), st.sampled_from(FOREIGN),
                     st.binary(max_size=600))


@FUZZ
@given(damaged=checkpoint_damage())
def test_accuracy_survives_damaged_checkpoints(damaged):
    content = damaged if isinstance(damaged, bytes) else damaged.to_bytes(CHECKPOINT, CHECKPOINT_BYTES,
                                                                          _saved)
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results"
        (results / "checkpoints").mkdir(parents=True)
        (results / "checkpoints" / "mnist-mlp.pt").write_bytes(content)
        # No data: a checkpoint that passes every check stops at the dataset, before any export or run.
        invoke(["accuracy", "--models", "mnist-mlp", "--results-dir", str(results),
                "--data-dir", str(Path(tmp) / "no-data"), "--no-download"])


# --- bench train --config: the packaged YAML ----------------------------------------------------------------

CONFIG_TEXT = {name: (ROOT / "train" / "configs" / f"{name}.yaml").read_text() for name in CONFIGS}
# YAML adds its own odd values: dates, strings YAML 1.1 reads as numbers elsewhere, binary.
ODD_CONFIG_VALUES = [*ODD_VALUES, datetime.date(2020, 1, 1), ".nan", "5e-4", b"\x00\xff", [[[]]],
                     {"hidden": -5}, {"hidden": 10**12}]


CONFIG_DOCS = {name: yaml.safe_load(text) for name, text in CONFIG_TEXT.items()}


def dump_yaml(doc) -> bytes:
    return yaml.safe_dump(doc, allow_unicode=True).encode()


@pytest.mark.parametrize("dataset", CONFIGS)
@FUZZ
@given(data=st.data())
def test_train_survives_damaged_configs(dataset, data):
    doc, raw = CONFIG_DOCS[dataset], CONFIG_TEXT[dataset].encode()
    values = value_damage(list(paths(doc)), ODD_CONFIG_VALUES)
    damaged = data.draw(st.one_of(values, values, values, byte_damage(len(raw))), label="damage")
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_bytes(damaged.to_bytes(doc, raw, dump_yaml))
        # No data: a config that passes every check stops at the dataset, before any training.
        invoke(["train", dataset, "--config", str(config), "--data-dir", str(Path(tmp) / "no-data"),
                "--results-dir", str(Path(tmp) / "results"), "--no-download", "--no-tensorboard"])


# --- bench run's manifest: a real `bench export mnist-mlp` --------------------------------------------------

@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """mnist-mlp's export folder, written once by the real `bench export mnist-mlp` (untrained, seed 0)."""
    out = tmp_path_factory.mktemp("results") / "exports"
    result = invoke(["export", "mnist-mlp", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "mnist-mlp"


def _manifest_readers(exports: Path):
    """What `bench run` and its suites call on a manifest: the staleness check, the suites' reuse read,
    and each runtime's load (the eager runtime's model_kwargs, TorchScript's and ONNX's sha256 check)."""
    from bench.run.artifacts import ensure_exported
    from bench.runtimes import get_runtime, runtime_names
    from export.pipeline import is_export_current
    from train.registry import get_model

    spec, cpu = get_model("mnist-mlp"), torch.device("cpu")
    yield lambda: is_export_current(spec, exports, None, 0)
    yield lambda: ensure_exported(spec, exports, exports.parent / "checkpoints", reuse=True)
    for name in runtime_names():
        yield lambda name=name: get_runtime(name).load(spec, exports / spec.name, cpu, 1).run(
            spec.example_inputs(2))


@FUZZ
@given(data=st.data())
def test_manifest_readers_survive_damaged_manifests(exported, data):
    raw = (exported / "manifest.json").read_bytes()
    manifest = json.loads(raw)
    content = data.draw(damage(manifest, raw), label="damage").to_bytes(manifest, raw, dump_json)
    with tempfile.TemporaryDirectory() as tmp:
        exports = Path(tmp) / "exports"
        shutil.copytree(exported, exports / "mnist-mlp")
        (exports / "mnist-mlp" / "manifest.json").write_bytes(content)
        for read in _manifest_readers(exports):
            try:
                read()
            except BenchError as exc:  # the CLI prints it as one line, exit 2
                assert "\n" not in str(exc), str(exc)


# --- bench report: a training record a real `bench train` wrote -------------------------------------------

@pytest.fixture(scope="module")
def training_record(tmp_path_factory, shared_data) -> Path:
    """results/training/cora/cora-mlp.json from a real 2-epoch `bench train` on the real Cora."""
    results = tmp_path_factory.mktemp("trained") / "results"
    from tests.train_fixtures import copy_shared

    data = copy_shared("cora", tmp_path_factory.mktemp("data"))  # PyG writes its processed files there
    result = invoke(["train", "cora", "--model", "cora-mlp", "--epochs", "2", "--data-dir", str(data),
                     "--results-dir", str(results), "--no-download", "--no-tensorboard"])
    assert result.exit_code == 0, result.output
    return results / "training" / "cora" / "cora-mlp.json"


@FUZZ
@given(data=st.data())
def test_report_survives_damaged_training_records(training_record, data):
    raw = training_record.read_bytes()
    record = json.loads(raw)
    content = data.draw(damage(record, raw), label="damage").to_bytes(record, raw, dump_json)
    with tempfile.TemporaryDirectory() as tmp:
        damaged = Path(tmp) / "results" / "training" / "cora" / "cora-mlp.json"
        damaged.parent.mkdir(parents=True)
        damaged.write_bytes(content)
        invoke(["report", "--dataset", "cora", "--results-dir", str(Path(tmp) / "results"),
                "--format", "markdown"])
