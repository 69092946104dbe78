"""The reports' own experiment definitions that both `bench report` (to match records to the reports'
rows) and `bench reproduce` (to run them) read: one definition, two readers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from train.registry import VARIANT_MARK


@dataclass(frozen=True)
class MnistConfiguration:
    """One configuration of the MNIST CNN report and the `bench train` options that reproduce it."""

    name: str
    model: str
    optimizer: str
    lr: float
    scheduler: str
    options: str  # appended to `bench train mnist --model <model> --name <variant>`
    variant: str  # the named variant its command trains: the five configurations never overwrite each other

    def matches(self, config: dict[str, Any]) -> bool:
        """Whether a record's config is this configuration (the model itself or any variant of it)."""
        model = str(config.get("model", "")).partition(VARIANT_MARK)[0]
        return (model == self.model and config.get("optimizer") == self.optimizer
                and abs(float(config.get("lr", 0)) - self.lr) < 1e-12
                and config.get("scheduler", "none") == self.scheduler)


MNIST_CONFIGURATIONS = (
    MnistConfiguration("SGD", "mnist-cnn", "sgd-momentum", 0.01, "none", "", "sgd"),
    MnistConfiguration("SGD + BN", "mnist-cnn-bn", "sgd-momentum", 0.01, "none",
                       "--set optimizer=sgd-momentum --lr 0.01", "sgd-bn"),
    MnistConfiguration("Adam", "mnist-cnn", "adam", 0.001, "none", "--set optimizer=adam --lr 0.001", "adam"),
    MnistConfiguration("Adam + BN", "mnist-cnn-bn", "adam", 0.001, "none", "", "adam-bn"),
    MnistConfiguration("Adam + BN + StepLR", "mnist-cnn-bn", "adam", 0.002, "step",
                       "--lr 0.002 --set scheduler=step --set step_size=3 --set gamma=0.5", "adam-bn-steplr"),
)


@dataclass(frozen=True)
class MlpRun:
    """One run of the MNIST MLP report: the axis it belongs to, its setting, its variant and options."""

    axis: str  # the table it is a row of
    setting: str  # what this row varies, as the table shows it
    variant: str  # trains mnist-mlp@<variant>
    options: tuple[str, ...]  # `bench train mnist --model mnist-mlp` options (5 epochs are added)
    histograms: bool = False  # weight/gradient histograms per epoch (the initialisation study reads them)

    @property
    def model(self) -> str:
        return f"mnist-mlp{VARIANT_MARK}{self.variant}"


def _mlp_axes() -> tuple[MlpRun, ...]:
    """Report 002's axes, 5 epochs each: activation, optimiser, dropout, a depth × width × learning-rate grid
    with StepLR decay, and BatchNorm × initialisation on the 3-layer network."""
    runs = [MlpRun("activation", name, f"act-{act}", ("--set", f"model_kwargs.activation={act}"))
            for act, name in (("relu", "ReLU"), ("tanh", "Tanh"), ("sigmoid", "Sigmoid"))]
    for optimizer, lr, name in (("sgd", 0.01, "SGD"), ("sgd-momentum", 0.01, "SGD momentum 0.9"),
                                ("adam", 0.001, "Adam"), ("rmsprop", 0.01, "RMSprop")):
        runs.append(MlpRun("optimiser", f"{name}, lr {lr:g}", f"opt-{optimizer}",
                           ("--set", f"optimizer={optimizer}", "--lr", f"{lr:g}")))
    runs += [MlpRun("dropout", f"p = {p:g}", f"dropout-{p:g}", ("--set", f"model_kwargs.dropout={p:g}"))
             for p in (0.0, 0.5)]
    for layers in (1, 2):
        for hidden in (128, 256):
            for lr in (0.001, 0.01):
                runs.append(MlpRun("depth × width × learning rate",
                                   f"{layers + 1} linear layers, {hidden} wide, lr {lr:g}, StepLR",
                                   f"grid-l{layers}-h{hidden}-lr{lr:g}",
                                   ("--set", f"model_kwargs.layers={layers}", "--set",
                                    f"model_kwargs.hidden={hidden}", "--lr", f"{lr:g}", "--set",
                                    "scheduler=step")))
    for init in ("default", "zeros", "kaiming"):
        for batchnorm in (False, True):
            runs.append(MlpRun("BatchNorm × initialisation",
                               f"3-layer, init {init}{', BatchNorm' if batchnorm else ''}",
                               f"deep-{init}{'-bn' if batchnorm else ''}",
                               ("--set", "model_kwargs.layers=2", "--set", f"model_kwargs.init={init}",
                                "--set", f"model_kwargs.batchnorm={str(batchnorm).lower()}"),
                               histograms=True))
    return tuple(runs)


MNIST_MLP_RUNS = _mlp_axes()
MNIST_MLP_EPOCHS = 5
