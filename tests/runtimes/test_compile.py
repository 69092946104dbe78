"""torch.compile: compiled once at load on the export example, equal to eager at other sizes, its compile time
and cache state recorded, its recompiles counted as dynamo counts them, never run eagerly in its place.

One mnist-mlp compile serves the file (module-scoped): compiling is the cost, 5-10 s on a CPU."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.errors import BenchError
from bench.runtimes import get_runtime
from bench.runtimes.compile import DYNAMO_SETTINGS, MODES
from export.cases import EXPORT_BATCH
from export.parity import DEFAULT_ATOL, DEFAULT_RTOL
from train.registry import get_model

SPEC = get_model("mnist-mlp")  # the cheapest model to compile
CPU = torch.device("cpu")
THREADS = 2


def _frames_compiled() -> int:
    """Dynamo's own count of frames it compiled in this process."""
    from torch._dynamo.utils import counters

    return counters["frames"]["ok"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A bare weights.pt (seed 0): all the compile runtime loads, so no export is needed."""
    folder = tmp_path_factory.mktemp("compile-mnist-mlp")
    torch.save(SPEC.build(seed=0).state_dict(), folder / "weights.pt")
    return folder


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """Inductor's caches in a folder of this module's own: the compile is cold whatever the user's cache
    holds; dynamo's process-wide settings that load() makes are put back afterwards.

    Dynamo's in-memory cache is emptied before and after: a 1-thread mnist-mlp compiled by an earlier test
    in this process (the manifest fuzz loads every runtime) would otherwise serve this module's 1-thread
    load, rightly reported as cache "process", where the test expects a compile."""
    import torch._dynamo

    folder = tmp_path_factory.mktemp("inductor-cache")
    config = torch._dynamo.config
    torch._dynamo.reset()
    with pytest.MonkeyPatch.context() as patch, \
            config.patch({key: getattr(config, key) for key in DYNAMO_SETTINGS}):
        patch.setenv("TORCHINDUCTOR_CACHE_DIR", str(folder))
        yield folder
    torch._dynamo.reset()


@pytest.fixture(scope="module")
def compiled(model_dir, cache_dir):
    """The session, and dynamo's frame count right after its load."""
    session = get_runtime("compile").load(SPEC, model_dir, CPU, THREADS)
    return session, _frames_compiled()


@pytest.fixture(scope="module")
def eager(model_dir):
    return get_runtime("eager").load(SPEC, model_dir, CPU, THREADS)


@pytest.mark.parametrize("batch", [1, 3, 64])
def test_matches_eager_at_sizes_unlike_the_compile_example(batch, compiled, eager):
    session, _ = compiled
    inputs = SPEC.example_inputs(batch, seed=5)
    reference = eager.run(inputs)
    # The bound (timed) call and run() both: the suite checks the first, accuracy uses the second.
    torch.testing.assert_close(session.fetch(session.bind(inputs)()), reference, atol=DEFAULT_ATOL,
                               rtol=DEFAULT_RTOL)
    torch.testing.assert_close(session.run(inputs), reference, atol=DEFAULT_ATOL, rtol=DEFAULT_RTOL)


def test_the_compile_happens_at_load_on_the_export_example_and_is_recorded(compiled, cache_dir):
    session, _ = compiled
    details, settings = session.details, session.details.settings
    assert details.prepare_s is not None and details.prepare_s > 0
    assert settings["compiled_on"] == f"batch {EXPORT_BATCH}"
    assert settings["dynamic_axes"] == {"image": {"0": "batch"}}
    assert settings["mode"] == "default" and settings["backend"] == "inductor"
    assert settings["torch"] == torch.__version__
    # A fresh cache folder: a cold compile, which the record says (a warm one would make prepare_s a load).
    assert settings["cache"] == "cold" and settings["fx_graph_cache"]["misses"] >= 1
    assert settings["cache_dir"] == str(cache_dir)
    assert settings["compiled_graphs"] == 1 and settings["graph_breaks"] == 0
    assert all(settings["dynamo"][key] == value for key, value in DYNAMO_SETTINGS.items())


def test_threads_are_set_before_the_compile_and_recorded(compiled):
    session, _ = compiled
    assert session.details.threads == THREADS
    # Explicit, so inductor's cache key holds it: a kernel compiled for another count is never reused.
    assert session.details.settings["inductor_options"]["cpp.threads"] == THREADS


def test_report_counts_the_recompiles_dynamo_counts(compiled):
    session, at_load = compiled
    for batch in (7, 1, 64):
        before, frames_before = session.report(), _frames_compiled()
        session.run(SPEC.example_inputs(batch, seed=6))
        after = session.report()
        made = _frames_compiled() - frames_before
        assert after["recompiles"] - before["recompiles"] == made == after["recompiles_since_last_report"]
        assert after["failed_frames"] == before["failed_frames"]
    assert session.report()["recompiles"] == _frames_compiled() - at_load
    # The batch axis is compiled dynamic: sizes 2..64 share the load's graph; only batch 1, which dynamo
    # specialises (0/1 specialisation), may add one.
    assert session.report()["recompiles"] <= 1


def test_past_the_recompile_limit_the_call_raises_instead_of_running_eagerly(compiled, eager):
    import torch._dynamo
    from torch._dynamo.exc import FailOnRecompileLimitHit

    session, _ = compiled
    inputs = (SPEC.example_inputs(3, seed=7)[0].requires_grad_(True),)  # fails a guard: a new compile
    before = session.report()
    with torch._dynamo.config.patch(recompile_limit=1), pytest.raises(FailOnRecompileLimitHit):
        session.run(inputs)  # the load's graph already fills the one entry allowed
    assert session.report()["failed_frames"] == before["failed_frames"] + 1
    plain = SPEC.example_inputs(3, seed=7)  # the graph compiled at load still serves
    torch.testing.assert_close(session.run(plain), eager.run(plain), atol=DEFAULT_ATOL, rtol=DEFAULT_RTOL)


def test_a_load_at_the_same_threads_reuses_the_graph_and_one_at_other_threads_compiles_anew(model_dir,
                                                                                            compiled):
    runtime = get_runtime("compile")
    again = runtime.load(SPEC, model_dir, CPU, THREADS)
    assert again.details.settings["cache"] == "process" and again.details.settings["compiled_graphs"] == 0
    # cpp.threads is explicit, so neither dynamo nor inductor's cache serves the 2-thread kernels at 1 thread.
    other = runtime.load(SPEC, model_dir, CPU, 1)
    assert other.details.settings["cache"] == "cold" and other.details.settings["compiled_graphs"] == 1
    assert other.details.settings["inductor_options"]["cpp.threads"] == other.details.threads == 1


def test_modes_are_torch_compiles_and_an_unknown_one_is_one_line(tmp_path):
    from torch._inductor import list_mode_options

    runtime = get_runtime("compile")
    assert set(MODES) <= set(list_mode_options())
    assert runtime.resolve_options({"mode": "max-autotune"}) == {"mode": "max-autotune"}
    with pytest.raises(BenchError, match="compile.mode 'fast' is not a torch.compile mode; choose one of: "
                                         "default, max-autotune"):
        runtime.resolve_options({"mode": "fast"})
    args = ["run", "--models", "mnist-mlp", "--runtimes", "compile", "--runtime-option", "compile.mode=fast"]
    result = CliRunner().invoke(app, [*args, "--results-dir", str(tmp_path)])
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1 and "not a torch.compile mode" in errors[0]
    assert "Traceback" not in result.output and not any(tmp_path.iterdir())


def test_compile_is_asked_for_by_name_and_one_session_serves_a_run():
    runtime = get_runtime("compile")
    assert (runtime.default, runtime.shares_session, runtime.export_format) == (False, True, None)
    assert runtime.artifact == "weights.pt" and runtime.devices == ("cpu", "cuda")


@pytest.mark.cuda
def test_compiles_on_cuda_and_matches_eager(model_dir, cache_dir):
    device = torch.device("cuda")
    session = get_runtime("compile").load(SPEC, model_dir, device, 1)
    assert session.details.device.startswith("cuda") and session.details.prepare_s > 0
    for batch in (1, 64):
        inputs = SPEC.example_inputs(batch, seed=5)
        reference = get_runtime("eager").load(SPEC, model_dir, device, 1).run(inputs)
        torch.testing.assert_close(session.fetch(session.bind(inputs)()), reference, atol=DEFAULT_ATOL,
                                   rtol=DEFAULT_RTOL)
    assert session.report()["failed_frames"] == 0
