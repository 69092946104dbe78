"""Audio to log-mel features (report 001) and the train-only spectrogram augmentations."""

from __future__ import annotations

from pathlib import Path

import torch
import torchaudio
from torch import nn

SAMPLE_RATE = 16_000  # Hz
CLIP_SECONDS = 5
N_FFT, HOP, N_MELS = 400, 160, 64
N_FRAMES = CLIP_SECONDS * SAMPLE_RATE // HOP + 1  # 501: centred STFT of 5 s at hop 160


class LogMelFrontEnd(nn.Module):
    """Waveform (batch, 80000) at 16 kHz -> log-mel (batch, 1, 64, 501): MelSpectrogram (power), dB,
    per-band standardised. The one definition of the features: LogMel (training) and the esc50-wave
    model (front end in the graph) both run this module. Its STFT window and mel filterbank are
    non-persistent buffers: fixed by the constants above, so never in a state dict or checkpoint."""

    def __init__(self) -> None:
        super().__init__()
        ambient = torch.empty(0).device  # the default device, which `with torch.device(...)` sets
        # Built on the CPU: torchaudio's filterbank calls .item(), which fails on the meta device that
        # config checks build models on; then moved where the rest of the model is being built.
        with torch.device("cpu"):
            self.mel = torchaudio.transforms.MelSpectrogram(
                sample_rate=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS)
            self.to_db = torchaudio.transforms.AmplitudeToDB(stype="power")  # top_db None: no clamp
        for module in self.modules():
            for name, buffer in list(module.named_buffers(recurse=False)):
                module.register_buffer(name, buffer, persistent=False)
        self.to(ambient)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Features of each clip of `wave` (batch, samples), shape (batch, 1, N_MELS, frames)."""
        return standardise_bands(self.to_db(self.mel(wave))).unsqueeze(1)


class LogMel:
    """WAV file -> (1, 64, 501) log-mel: mono, 16 kHz, 5 s, then LogMelFrontEnd."""

    def __init__(self) -> None:
        self.front_end = LogMelFrontEnd()
        self._resamplers: dict[int, torchaudio.transforms.Resample] = {}

    def load(self, path: Path) -> torch.Tensor:
        """Mono waveform at 16 kHz, padded with silence or cut to exactly 5 s; shape (1, 80000)."""
        import soundfile  # on use: only reading WAV files needs libsndfile

        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        wave = torch.from_numpy(samples).mean(dim=1, keepdim=True).T  # (1, frames): channel mean
        if rate != SAMPLE_RATE:
            if rate not in self._resamplers:  # one kernel per source rate, reused across clips
                self._resamplers[rate] = torchaudio.transforms.Resample(rate, SAMPLE_RATE)
            wave = self._resamplers[rate](wave)
        length = CLIP_SECONDS * SAMPLE_RATE
        if wave.shape[1] < length:
            wave = torch.nn.functional.pad(wave, (0, length - wave.shape[1]))
        return wave[:, :length]

    def __call__(self, path: Path) -> torch.Tensor:
        """Features of one clip, shape (1, N_MELS, N_FRAMES)."""
        return self.front_end(self.load(path))[0]


def standardise_bands(spec: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Zero mean, unit std over time for each mel band (last axis is time)."""
    mean = spec.mean(dim=-1, keepdim=True)
    std = spec.std(dim=-1, keepdim=True)
    return (spec - mean) / (std + eps)


class SpecAugment:
    """Train-only: roll in time up to 5 % (p .3), one frequency mask <= 8 bins (p .5), one time mask
    <= 20 frames (p .5). Masks write 0, the band mean after standardisation. Uses torch's global RNG."""

    def __init__(self, max_shift: float = 0.05, p_shift: float = 0.3, freq_width: int = 8,
                 p_freq: float = 0.5, time_width: int = 20, p_time: float = 0.5) -> None:
        self.max_shift, self.p_shift = max_shift, p_shift
        self.p_freq, self.p_time = p_freq, p_time
        self.freq_mask = torchaudio.transforms.FrequencyMasking(freq_mask_param=freq_width)
        self.time_mask = torchaudio.transforms.TimeMasking(time_mask_param=time_width)

    def __call__(self, spec: torch.Tensor) -> torch.Tensor:
        """An augmented copy of `spec` (1, mels, frames); the input is never modified."""
        if torch.rand(()) < self.p_shift:
            limit = int(spec.shape[-1] * self.max_shift)
            shift = int(torch.randint(-limit, limit + 1, ()))
            spec = torch.roll(spec, shifts=shift, dims=-1)
        if torch.rand(()) < self.p_freq:
            spec = self.freq_mask(spec)
        if torch.rand(()) < self.p_time:
            spec = self.time_mask(spec)
        return spec
