"""esc50-wave: esc50-cnn with training's own log-mel front end in the graph, on esc50-cnn's checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
import torchaudio

from bench.run.artifacts import checkpoint_for
from export.checkpoint import build_model
from export.formats.onnx_model import onnx_session, run_onnx
from export.parity import DEFAULT_ATOL, DEFAULT_RTOL
from export.pipeline import export_model
from tests.train_fixtures import make_esc50
from train.checkpoint import CheckpointError, save_checkpoint, train_command
from train.config import configs_for
from train.data.audio import HOP, N_FFT, N_MELS, SAMPLE_RATE, LogMel, LogMelFrontEnd, standardise_bands
from train.data.esc50 import compute_features, read_meta
from train.errors import BenchError
from train.registry import get_model, model_names, models_for_dataset
from train.runner import RunOptions, train_models

SMALL = {"channels": [4, 8, 8], "kernel_size": 3}  # not the defaults: the checkpoint's kwargs must carry over


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    """WAV files as ESC-50 ships them and beside it: 16 kHz (one cut from 6 s), 22.05 kHz mono shorter than
    5 s (padded), 44.1 kHz stereo; tones over noise with a near-silent start (the dB floor)."""
    import soundfile

    folder = tmp_path_factory.mktemp("wav")
    rng = np.random.default_rng(0)
    paths = []
    for i, (rate, seconds, stereo) in enumerate([(16_000, 5.0, False), (16_000, 6.0, False),
                                                  (22_050, 2.5, False), (44_100, 5.0, True)]):
        t = np.arange(int(rate * seconds)) / rate
        x = 0.3 * np.sin(2 * np.pi * (250 + 300 * i) * t * (1 + t)) * np.exp(-t / 2)
        x += 0.02 * rng.standard_normal(len(t))
        x[: len(x) // 5] *= 1e-3
        audio = np.stack([x, 0.5 * x], axis=1) if stereo else x
        path = folder / f"clip{i}-{rate}.wav"
        soundfile.write(path, audio.astype(np.float32), rate, subtype="PCM_16")
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def cnn_checkpoint(tmp_path_factory) -> Path:
    """An esc50-cnn checkpoint as `bench train` writes it, trained with non-default model_kwargs."""
    (cfg,) = configs_for("esc50", sets={"model_kwargs": SMALL})
    model = get_model("esc50-cnn").build(seed=5, **SMALL)
    with torch.no_grad():  # running statistics unlike a fresh BatchNorm's, so loading them is visible
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    folder = tmp_path_factory.mktemp("checkpoints")
    return save_checkpoint(folder / "esc50-cnn.pt", "esc50-cnn", model.state_dict(), cfg.to_dict(),
                           {"test_acc": 0.5}, dict(cfg.to_dict()["model_kwargs"]))


def test_registered_with_the_waveform_input_and_esc50_cnns_weights() -> None:
    spec = get_model("esc50-wave")
    assert "esc50-wave" in model_names() and spec.dataset == "esc50" and spec.weights_of == "esc50-cnn"
    assert [(t.name, t.shape) for t in spec.inputs] == [("wave", ("batch", 5 * SAMPLE_RATE))]
    assert not get_model("esc50-cnn").weights_of


@pytest.mark.parametrize("kwargs", [{}, SMALL])
def test_state_dict_is_esc50_cnns(kwargs) -> None:
    wave, cnn = get_model("esc50-wave").build(**kwargs), get_model("esc50-cnn").build(**kwargs)
    shapes = {k: v.shape for k, v in cnn.state_dict().items()}
    assert {k: v.shape for k, v in wave.state_dict().items()} == shapes
    assert {n for n, _ in wave.named_buffers()} - set(wave.state_dict()) == {
        "front_end.mel.spectrogram.window", "front_end.mel.mel_scale.fb"}  # there, but never saved


def test_front_end_builds_on_the_meta_device_config_checks_use() -> None:
    with torch.device("meta"):
        model = get_model("esc50-wave").build(seed=None)
    assert {b.device.type for b in model.buffers()} == {"meta"}


def test_bench_train_never_trains_it(tmp_path: Path) -> None:
    assert all("esc50-wave" not in cfg.model for cfg in configs_for("esc50"))  # the default list
    assert [s.name for s in models_for_dataset("esc50", trained_only=True)] == ["esc50-cnn"]
    assert [s.name for s in models_for_dataset("esc50")] == ["esc50-cnn", "esc50-wave"]  # both benchmarked
    assert train_command("esc50-wave") == "`bench train esc50 --model esc50-cnn`"
    configs = configs_for("esc50", ["esc50-cnn", "esc50-wave"])
    options = RunOptions(data_dir=tmp_path / "data", results_dir=tmp_path / "results", download=False)
    refused = (r"'esc50-wave' is not trained on its own: it runs esc50-cnn's checkpoint; "
               r"train that with `bench train esc50 --model esc50-cnn`")
    with pytest.raises(BenchError, match=refused):
        train_models(configs, options)
    assert not (tmp_path / "results").exists()  # refused before anything was trained or written


def test_checkpoint_for_looks_for_esc50_cnns(tmp_path: Path, cnn_checkpoint: Path) -> None:
    spec = get_model("esc50-wave")
    assert checkpoint_for(spec, cnn_checkpoint.parent) == cnn_checkpoint
    own = tmp_path / "esc50-wave.pt"
    own.write_bytes(cnn_checkpoint.read_bytes())
    assert checkpoint_for(spec, tmp_path) is None  # a checkpoint under its own name is not what it runs


def test_an_esc50_cnn_checkpoint_loads_with_its_model_kwargs(cnn_checkpoint: Path, tmp_path: Path) -> None:
    model, kwargs = build_model(get_model("esc50-wave"), cnn_checkpoint, seed=0)
    assert kwargs == SMALL
    state = torch.load(cnn_checkpoint, weights_only=True)["state_dict"]
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    foreign = save_checkpoint(tmp_path / "other.pt", "mlp", state, {}, {}, {})
    with pytest.raises(CheckpointError, match="holds weights of model 'mlp', not 'esc50-cnn'"):
        build_model(get_model("esc50-wave"), foreign, seed=0)


def _recipe(wave: torch.Tensor) -> torch.Tensor:
    """The log-mel recipe as the training pipeline wrote it before the front end was a module."""
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP,
                                               n_mels=N_MELS)
    return standardise_bands(torchaudio.transforms.AmplitudeToDB(stype="power")(mel(wave)))


def test_front_end_is_the_training_features(clips: list[Path]) -> None:
    logmel = LogMel()
    waves = torch.cat([logmel.load(p) for p in clips])  # (4, 80000), resampled, padded, cut
    features = torch.stack([logmel(p) for p in clips])
    assert all(torch.equal(f, _recipe(logmel.load(p))) for f, p in zip(features, clips, strict=True))
    batched = LogMelFrontEnd()(waves)  # all clips at once, as the model sees a batch
    assert batched.shape == (4, 1, N_MELS, 501)
    torch.testing.assert_close(batched, features, atol=1e-5, rtol=0)


def test_front_end_matches_the_dataset_features(tmp_path: Path) -> None:
    """compute_features (what `bench train esc50` caches and trains on) of a real ESC-50 layout."""
    root = make_esc50(tmp_path, per_fold=1) / "esc50"
    clips = read_meta(root / "meta" / "esc50.csv")
    logmel = LogMel()
    waves = torch.cat([logmel.load(root / "audio" / c.filename) for c in clips])
    torch.testing.assert_close(LogMelFrontEnd()(waves), compute_features(root, clips), atol=1e-5, rtol=0)


def test_wave_model_is_esc50_cnn_on_the_features(clips: list[Path], cnn_checkpoint: Path) -> None:
    wave_model, _ = build_model(get_model("esc50-wave"), cnn_checkpoint, seed=0)
    cnn, _ = build_model(get_model("esc50-cnn"), cnn_checkpoint, seed=0)
    logmel = LogMel()
    with torch.inference_mode():
        got = wave_model(torch.cat([logmel.load(p) for p in clips]))
        want = cnn(torch.stack([logmel(p) for p in clips]))
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_exports_to_torchscript_and_onnx_with_an_stft(tmp_path: Path, cnn_checkpoint: Path,
                                                      clips: list[Path]) -> None:
    spec = get_model("esc50-wave")
    # fresh_process=False: tests/export/test_export.py reloads every model's exports, this one's included,
    # in a clean interpreter; here the checkpoint's weights and real audio are what is new.
    exported = export_model(spec, tmp_path, formats=("torchscript", "onnx"), checkpoint=cnn_checkpoint,
                            fresh_process=False)
    results = {r.format: r for r in exported}
    assert {f: (r.ok, r.reason) for f, r in results.items()} == {"torchscript": (True, ""),
                                                                  "onnx": (True, "")}
    assert results["torchscript"].exporter == "torch.jit.script"
    ops = {n.op_type for n in onnx.load(str(results["onnx"].path)).graph.node}
    assert "STFT" in ops  # the front end runs in ONNX Runtime, not dropped or baked in
    # Parity on real audio too (the pipeline checked random waves): near-silence is where dB is touchy.
    waves = torch.cat([LogMel().load(p) for p in clips])
    model, _ = build_model(spec, cnn_checkpoint, seed=0)
    with torch.inference_mode():
        want = model(waves)
    got = run_onnx(onnx_session(results["onnx"].path), spec.input_names, (waves,))
    torch.testing.assert_close(got, want, atol=DEFAULT_ATOL, rtol=DEFAULT_RTOL)
