"""`bench train --histograms`: every parameter's weight and gradient histograms in TensorBoard per epoch."""

from typer.testing import CliRunner

from bench.cli import app
from tests.train_fixtures import copy_shared


def test_histograms_of_weights_and_gradients_per_epoch(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    data = copy_shared("mnist", tmp_path / "data")
    results = tmp_path / "results"
    trained = CliRunner().invoke(app, [
        "train", "mnist", "--model", "mnist-mlp", "--epochs", "2", "--set", "train_subset=256",
        "--set", "eval_subset=128", "--set", "model_kwargs.init=zeros", "--histograms", "--data-dir",
        str(data), "--results-dir", str(results), "--no-download"])
    assert trained.exit_code == 0, trained.output
    (run,) = (results / "runs" / "mnist" / "mnist-mlp").iterdir()  # the run's folder: its event files
    logged = EventAccumulator(str(run), size_guidance={"histograms": 0}).Reload()
    tags = set(logged.Tags()["histograms"])
    assert {"weights/net.1.weight", "gradients/net.1.weight", "weights/net.3.bias",
            "gradients/net.3.bias"} <= tags
    first_layer = logged.Histograms("weights/net.1.weight")
    assert [h.step for h in first_layer] == [1, 2]
    assert first_layer[0].histogram_value.max != 0  # zero-initialised fc1 moved: its gradient was not zero
    assert logged.Histograms("gradients/net.1.weight")[0].histogram_value.max > 0


def test_histograms_without_tensorboard_is_one_line_exit_2(tmp_path):
    result = CliRunner().invoke(app, ["train", "cora", "--histograms", "--no-tensorboard", "--results-dir",
                                      str(tmp_path)])
    assert result.exit_code == 2 and "--histograms writes to TensorBoard" in result.output
