"""A session over a PyTorch module (eager or TorchScript): tensors on the device, inference mode."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from bench.measure.clock import Synchronizer, synchronized
from bench.measure.devices import synchronizer
from bench.runtimes.base import RuntimeDetails, Session, set_torch_threads


def torch_session(module: Callable[..., torch.Tensor], *, runtime: str, backend: str, recipe: str,
                  device: torch.device, path: Path, threads: int) -> TorchSession:
    """A TorchSession over `module` loaded from `path`: torch set to `threads` intra-op threads, and the
    details recorded (`backend`, e.g. "torch.jit", names what executes it)."""
    intra, inter = set_torch_threads(threads)
    details = RuntimeDetails(runtime=runtime, device=str(device), threads=intra, interop_threads=inter,
                             providers=(f"{backend} {torch.__version__} ({device.type})",), recipe=recipe,
                             artifact=str(path), artifact_bytes=Path(path).stat().st_size)
    return TorchSession(module, device, details)


class TorchSession(Session):
    """Calls `module(*inputs)` under torch.inference_mode on `device`."""

    def __init__(self, module: Callable[..., torch.Tensor], device: torch.device, details: RuntimeDetails,
                 synchronize: Synchronizer | None = None):
        self._module = module
        self._device = device
        # A seam for tests: a fake synchroniser proves each bound call waits for the device.
        self._sync = synchronize or synchronizer(device)
        self.details = details

    def _to_device(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Copy inputs to the device and wait, so no transfer leaks into a timed call."""
        moved = tuple(t.to(self._device) for t in inputs)
        self._sync()
        return moved

    def bind(self, inputs: Sequence[torch.Tensor]) -> Callable[[], object]:
        """Inputs moved once; each call is one forward pass, synchronised on CUDA, its output returned."""
        bound = self._to_device(inputs)
        module = self._module

        @torch.inference_mode()
        def forward() -> object:
            return module(*bound)

        return synchronized(forward, self._sync)

    def fetch(self, output: object) -> torch.Tensor:
        return _first_tensor(output).detach().cpu()

    def run(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """One forward pass; output on CPU."""
        with torch.inference_mode():
            output = self._module(*self._to_device(inputs))
        return _first_tensor(output).detach().cpu()


def _first_tensor(output: object) -> torch.Tensor:
    """The logits: the output itself, or the first element of a tuple/list output."""
    if isinstance(output, (tuple, list)):
        return output[0]
    return output
