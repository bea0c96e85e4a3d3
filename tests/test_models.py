import pytest
import torch

from mnist_utils import CNN, MLP, build_model, count_parameters


def test_cnn_is_the_historical_architecture():
    model = CNN()
    assert count_parameters(model) == 1_625_866
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (1, 32, (3, 3), (1, 1)),
        (32, 64, (3, 3), (1, 1)),
    ]
    assert model(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


def test_mlp_layers_and_dropout():
    model = MLP(hidden=(64, 32), dropout=0.5)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [(784, 64), (64, 32), (32, 10)]
    assert all(m.p == 0.5 for m in model.modules() if isinstance(m, torch.nn.Dropout))
    x = torch.randn(8, 1, 28, 28)
    model.eval()
    assert torch.equal(model(x), model(x))  # dropout off in eval mode
    model.train()
    assert not torch.equal(model(x), model(x))


def test_build_model_records_name_and_hparams():
    model = build_model("MLP", hidden=[32, 16], dropout=0.1)
    assert model.arch == "mlp" and model.hparams == {"hidden": (32, 16), "dropout": 0.1}
    assert build_model("cnn").arch == "cnn"


def test_build_model_refuses_unknown_hyperparameters():
    with pytest.raises(TypeError, match="hidden"):
        build_model("cnn", hidden=(3, 4))
