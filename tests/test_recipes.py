"""The speed recipes ("fast", "best"): networks, the new training knobs, the lean optimizer, the CLI."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from mnist_utils import RECIPES, build_model, count_parameters, fit, load_checkpoint
from mnist_utils.augment import RandomShift
from mnist_utils.optim import LeanOneCycle, LeanOptimizer, make_optimizer
from mnist_utils.train import TrainConfig, bf16_supported


@pytest.mark.parametrize("name, params", [("fast", 212_682), ("best", 150_698)])
def test_recipe_models_build_and_forward(name, params):
    model = build_model(name)
    assert model.arch == name and count_parameters(model) == params
    assert model(torch.randn(5, 1, 28, 28)).shape == (5, 10)
    model.eval()
    cl = build_model(name)
    cl.load_state_dict(model.state_dict())
    cl = cl.to(memory_format=torch.channels_last).eval()
    x = torch.randn(3, 1, 28, 28)
    torch.testing.assert_close(cl(x.contiguous(memory_format=torch.channels_last)), model(x), rtol=1e-4, atol=1e-4)


def test_recipe_model_hyperparameters_checked():
    assert build_model("fast", channels=(8, 16), fc=32)(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(TypeError, match="channels"):
        build_model("fast", channels=8)
    with pytest.raises(ValueError, match="widths"):
        build_model("best", widths=(8, 0, 16))


def test_recipes_registered_for_cli_and_notebooks():
    for name in ("fast", "best"):
        recipe = RECIPES[name]
        assert recipe.model == name and recipe.description
        assert recipe.config.schedule == "onecycle" and recipe.config.lean
    assert RECIPES["fast"].config.epochs == 1
    assert RECIPES["best"].config.augment > 0


@pytest.mark.parametrize("field, value, error", [
    ("betas", (0.9,), TypeError), ("betas", (0.9, 1.0), ValueError), ("augment", -1, ValueError),
    ("augment", 1.5, TypeError), ("rotate", 90, ValueError), ("threads", 0, ValueError),
    ("bf16", "yes", TypeError), ("channels_last", 1, TypeError), ("pct_start", 1.0, ValueError),
    ("nesterov", True, ValueError),  # adam by default: Nesterov needs SGD
])
def test_new_config_fields_validated(field, value, error):
    with pytest.raises(error, match=field):
        TrainConfig(**{field: value})


def _tiny_problem():
    torch.manual_seed(0)
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    return x, y


@pytest.mark.parametrize("options", [
    dict(optimizer="adam", lr=1e-2, betas=(0.7, 0.9), weight_decay=1e-4),
    dict(optimizer="sgd", lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4),
    dict(optimizer="sgd", lr=0.1, momentum=0.0),
])
def test_lean_optimizer_matches_torch_optim(options):
    x, y = _tiny_problem()
    finals = []
    for lean in (False, True):
        config = TrainConfig(lean=lean, schedule="onecycle", pct_start=0.25, **options)
        torch.manual_seed(1)
        model = build_model("fast", channels=(4, 8), fc=16)
        optimizer = make_optimizer(model, config)
        assert isinstance(optimizer, LeanOptimizer) == lean
        scheduler = (LeanOneCycle(optimizer, config.lr, 6, config.pct_start) if lean else
                     torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=6, pct_start=0.25,
                                                         cycle_momentum=False))
        for i in range(5):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x[i * 12:(i + 1) * 12]), y[i * 12:(i + 1) * 12]).backward()
            optimizer.step()
            scheduler.step()
        finals.append([p.detach().clone() for p in model.parameters()])
    for a, b in zip(*finals):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_random_shift_moves_whole_pixels_and_repeats():
    x = torch.zeros(2, 1, 28, 28)
    x[:, 0, 10:14, 12:16] = 1.0
    out = RandomShift(2, seed=3)(x)
    assert out.shape == x.shape
    assert torch.allclose(out.sum((1, 2, 3)), x.sum((1, 2, 3)), atol=1e-4)  # whole-pixel moves keep the ink
    assert torch.equal(out, RandomShift(2, seed=3)(x))
    assert torch.allclose(RandomShift(0)(x), x, atol=1e-5)
    assert RandomShift(2, 10.0, seed=1)(x).shape == x.shape
    with pytest.raises(ValueError, match="max_shift"):
        RandomShift(9)


@pytest.mark.parametrize("flags", [dict(), dict(bf16=True), dict(channels_last=True),
                                   dict(bf16=True, channels_last=True, augment=2, rotate=5.0, threads=1)])
def test_tiny_fit_with_speed_flags(small_data, flags):
    config = RECIPES["fast"].config.replace(**{"bf16": False, "channels_last": False, "batch_size": 200, "epochs": 2,
                                               **flags})
    model, history = fit("fast", small_data, config, progress=False)
    assert history.epochs == 2 and len(history.val_acc) == 2
    assert history.val_acc[-1] > 0.6, history
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_bf16_falls_back_to_float32_with_a_warning(small_data, monkeypatch):
    import mnist_utils.train as train

    monkeypatch.setattr(train, "bf16_supported", lambda device: False)
    with pytest.warns(RuntimeWarning, match="bf16"):
        _, history = fit("fast", small_data, RECIPES["fast"].config.replace(batch_size=500), progress=False)
    assert history.epochs == 1
    assert isinstance(bf16_supported(torch.device("cpu")), bool)


def test_fast_recipe_repeats_exactly(small_data):
    config = RECIPES["fast"].config.replace(batch_size=250)
    runs = [fit("fast", small_data, config, progress=False) for _ in range(2)]
    assert runs[0][1].train_loss == runs[1][1].train_loss
    for a, b in zip(runs[0][0].parameters(), runs[1][0].parameters()):
        assert torch.equal(a, b)


def test_best_recipe_tiny_fit(small_data):
    # one epoch of 2,000 images is 8 steps: the recipe's peak lr 0.4 needs its long warm-up, so use less here
    model, history = fit("best", small_data, RECIPES["best"].config.replace(epochs=1, lr=0.05), progress=False)
    assert history.epochs == 1 and history.val_acc[0] > 0.2, history


@pytest.mark.parametrize("name", ["fast", "best"])
def test_cli_trains_recipe_on_subset_and_writes_files(tmp_path, data_dir, name):
    cmd = [sys.executable, "-m", "mnist_utils", "train", "--model", name, "--train-subset", "2000",
           "--epochs", "1", "--data-dir", str(data_dir), "--out-dir", str(tmp_path),
           "--figure", str(tmp_path / "curves.png"), "--json"] + (["--lr", "0.05", "--batch-size", "64"] if name == "best" else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["model"] == name and 0.2 < summary["test_accuracy"] <= 1.0
    assert summary["config"]["lean"] is True
    for f in ("mnist_model_state.pth", "mnist_model_full.pth", "curves.png"):
        assert (tmp_path / f).is_file()
    checkpoint = load_checkpoint(tmp_path / "mnist_model_state.pth")
    assert checkpoint.arch == name and checkpoint.model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


def test_fast_path_imports_neither_torchvision_nor_dynamo(data_dir):
    code = ("import sys, mnist_utils as m; d = m.load_mnist(train_subset=512, val_size=256); "
            "m.fit('fast', d, m.RECIPES['fast'].config.replace(batch_size=256), progress=False); "
            "print(sorted(k for k in ('torchvision', 'torch._dynamo') if k in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
