"""Each runtime loads its exported artifact and matches eager; a provider that is not there is refused."""

import onnxruntime as ort
import pytest
import torch

from bench.errors import BenchError
from bench.runtimes import RuntimeUnavailable, default_runtime_names, get_runtime, runtime_names
from export.parity import DEFAULT_ATOL, DEFAULT_RTOL
from train.registry import get_model

SPEC = get_model("mnist-mlp")


@pytest.fixture(scope="module")
def model_dir(mnist_mlp_results):
    return mnist_mlp_results / "exports" / "mnist-mlp"


# The default runtimes; those that compile (aoti, compile) have their own tests, which compile once.
@pytest.mark.parametrize("runtime", default_runtime_names())
def test_runtime_matches_eager_on_cpu(runtime, model_dir):
    inputs = SPEC.example_inputs(3, seed=5)
    reference = get_runtime("eager").load(SPEC, model_dir, torch.device("cpu"), 1).run(inputs)
    session = get_runtime(runtime).load(SPEC, model_dir, torch.device("cpu"), 1)
    output = session.run(inputs)
    assert output.device.type == "cpu" and output.shape == (3, 10)
    torch.testing.assert_close(output, reference, atol=DEFAULT_ATOL, rtol=DEFAULT_RTOL)
    # The bound (timed) call computes the same thing: its output, fetched, is what parity checks.
    torch.testing.assert_close(session.fetch(session.bind(inputs)()), reference, atol=DEFAULT_ATOL,
                               rtol=DEFAULT_RTOL)
    details = session.details
    artifact = model_dir / get_runtime(runtime).artifact
    assert details.device == "cpu" and details.artifact_bytes == artifact.stat().st_size


def test_onnxruntime_records_the_provider_it_really_uses(model_dir):
    session = get_runtime("onnxruntime").load(SPEC, model_dir, torch.device("cpu"), 2)
    assert session.details.providers == ("CPUExecutionProvider",)
    assert (session.details.threads, session.details.interop_threads) == (2, 1)


@pytest.mark.skipif(torch.cuda.is_available() and "CUDAExecutionProvider" in ort.get_available_providers(),
                    reason="this machine has CUDA and ONNX Runtime's CUDA provider: it can load")
def test_onnxruntime_asked_for_cuda_without_cuda_is_unavailable_not_cpu(model_dir):
    # onnxruntime-gpu offers the provider and fails to load it; a CPU build does not offer it: unavailable.
    expected = "CUDAExecutionProvider (requested but the session runs on|is not in this build)"
    with pytest.raises(RuntimeUnavailable, match=expected):
        get_runtime("onnxruntime").load(SPEC, model_dir, torch.device("cuda"), 1)


def test_missing_artifact_is_unavailable_with_the_fix(tmp_path):
    with pytest.raises(RuntimeUnavailable, match="no model.onnx .* run `bench export`"):
        get_runtime("onnxruntime").load(SPEC, tmp_path, torch.device("cpu"), 1)


def test_thread_count_must_be_positive(model_dir):
    with pytest.raises(BenchError, match="positive"):
        get_runtime("onnxruntime").load(SPEC, model_dir, torch.device("cpu"), 0)


@pytest.mark.cuda
@pytest.mark.parametrize("runtime", [pytest.param(name, marks=pytest.mark.ort_cuda) if name == "onnxruntime"
                                     else name for name in runtime_names()
                                     if "cuda" in get_runtime(name).devices])
def test_runtime_runs_on_cuda_and_matches_eager(runtime, model_dir):
    device = torch.device("cuda")
    inputs = SPEC.example_inputs(4, seed=5)
    reference = get_runtime("eager").load(SPEC, model_dir, device, 1).run(inputs)
    session = get_runtime(runtime).load(SPEC, model_dir, device, 1)
    assert session.details.device.startswith("cuda")
    if runtime == "onnxruntime":
        assert session.details.providers[0] == "CUDAExecutionProvider"
    torch.testing.assert_close(session.run(inputs), reference, atol=DEFAULT_ATOL, rtol=DEFAULT_RTOL)
    session.bind(inputs)()


def test_eager_builds_the_architecture_the_weights_were_exported_with(tmp_path):
    """A checkpoint trained with non-default model_kwargs must load in eager, not fail on shapes."""
    import torch as _torch

    from bench.runtimes import get_runtime
    from export.pipeline import export_model
    from train.registry import get_model

    spec = get_model("mnist-mlp")
    model = spec.build(seed=1, hidden=32)
    checkpoint = tmp_path / "ckpt.pt"
    _torch.save({"model": "mnist-mlp", "state_dict": model.state_dict(),
                 "model_kwargs": {"hidden": 32}}, checkpoint)
    export_model(spec, tmp_path / "exports", formats=("onnx",), checkpoint=checkpoint,
                 fresh_process=False)
    session = get_runtime("eager").load(spec, tmp_path / "exports" / "mnist-mlp", _torch.device("cpu"), 1)
    x = spec.example_inputs(3)
    assert _torch.equal(session.run(x), model.eval()(*x))
