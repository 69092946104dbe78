"""MnistMLP as report 002 builds it: depth (`layers`), and the initialisation study on fc1.weight only."""

import pytest
import torch
from torch import nn

from train.models.mnist import MnistMLP


def _linears(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def test_one_hidden_layer_keeps_the_report_shape_and_checkpoint_keys():
    model = MnistMLP()
    assert [(m.in_features, m.out_features) for m in _linears(model)] == [(784, 128), (128, 10)]
    assert sorted(model.state_dict()) == ["net.1.bias", "net.1.weight", "net.3.bias", "net.3.weight"]


def test_the_three_layer_network_has_bn_and_activation_after_each_hidden_layer():
    model = MnistMLP(layers=2, batchnorm=True, activation="tanh", dropout=0.5)
    assert [(m.in_features, m.out_features) for m in _linears(model)] == [(784, 128), (128, 128), (128, 10)]
    kinds = [type(m).__name__ for m in model.net]
    assert kinds == ["Flatten", "Linear", "BatchNorm1d", "Tanh", "Dropout",
                     "Linear", "BatchNorm1d", "Tanh", "Dropout", "Linear"]
    assert model.eval()(torch.randn(3, 1, 28, 28)).shape == (3, 10)


@pytest.mark.parametrize("layers", [0, -1, 1.5, True, "2"])
def test_a_depth_that_is_not_a_positive_integer_is_refused(layers):
    with pytest.raises(ValueError, match="layers"):
        MnistMLP(layers=layers)


def test_zero_init_sets_fc1_weight_only_and_the_net_still_learns():
    torch.manual_seed(0)
    model = MnistMLP(init="zeros", layers=2)
    first, second, last = _linears(model)
    assert torch.count_nonzero(first.weight) == 0
    assert torch.count_nonzero(first.bias) > 0 and torch.count_nonzero(second.weight) > 0
    loss = nn.functional.cross_entropy(model(torch.randn(16, 1, 28, 28)), torch.randint(0, 10, (16,)))
    loss.backward()
    assert first.weight.grad.abs().sum() > 0  # every layer and bias zeroed would give no gradient at all


def test_kaiming_init_draws_fc1_with_the_fan_in_scale_and_leaves_the_rest_default():
    torch.manual_seed(0)
    default = MnistMLP()
    torch.manual_seed(0)
    kaiming = MnistMLP(init="kaiming")
    std = _linears(kaiming)[0].weight.std().item()
    assert std == pytest.approx((2 / 784) ** 0.5, rel=0.02)  # gain sqrt(2) over fan_in 784
    assert torch.equal(_linears(kaiming)[0].bias, _linears(default)[0].bias)
    assert torch.equal(_linears(kaiming)[1].weight, _linears(default)[1].weight)
