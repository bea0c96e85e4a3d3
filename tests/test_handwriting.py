"""Handwriting from outside MNIST: the distortions of the robust recipe, temperature scaling, predict's top 3 and
'unsure', and the check-set builder (benchmarks/handwriting.py)."""
import json
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from test_cli import run_cli

from mnist_utils import RECIPES, TrainConfig, fit, load_mnist, predict, save_model
from mnist_utils.augment import RandomDistort
from mnist_utils.evaluate import UNSURE, fit_temperature

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import handwriting


def test_random_distort_moves_strokes_keeps_the_background_and_repeats_with_its_seed():
    x = torch.full((64, 1, 28, 28), -0.42)  # MNIST-normalized black
    x[:, :, 6:22, 13:15] = 2.8  # a "1"
    out = RandomDistort(2, seed=3)(x)
    assert out.shape == x.shape and torch.equal(out, RandomDistort(2, seed=3)(x))
    assert not torch.equal(out, RandomDistort(2, seed=4)(x))
    assert (out[:, :, :3, :3] - -0.42).abs().max() < 0.5  # background stays background (plus a little noise)
    ink = (out > 1).flatten(1).sum(1).float()
    assert ink.min() < 0.6 * 32 and ink.max() > 1.5 * 32  # thinner and thicker strokes among the 64
    columns = [(out[i, 0] > 1).nonzero()[:, 1].float() for i in range(64)]
    assert max(float(c.max() - c.min()) for c in columns if len(c)) >= 4  # some slanted or rotated


def test_temperature_scaling_recovers_a_known_temperature():
    generator = torch.Generator().manual_seed(0)
    logits = 4 * torch.randn(5000, 10, generator=generator)
    labels = torch.multinomial((logits / 2.5).softmax(1), 1, generator=generator).flatten()  # true T = 2.5

    class Fixed(torch.nn.Module):  # a "model" whose logits are the ones above, in order
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def forward(self, index):
            return logits[index.flatten().long()] * self.w

    assert fit_temperature(Fixed(), (torch.arange(5000.0)[:, None], labels)) == pytest.approx(2.5, rel=0.1)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, data_dir):
    """The fast recipe for one epoch on 5,000 images (seconds), calibrated on its validation split, saved."""
    data = load_mnist(data_dir, train_subset=5000, val_size=2000)
    model, _ = fit("fast", data, RECIPES["fast"].config.replace(bf16=False), progress=False)
    out = tmp_path_factory.mktemp("tiny") / "model"
    save_model(model, out, metrics={"temperature": fit_temperature(model, data.val)})
    return out, model, data


def test_calibrated_probabilities_keep_the_digits(tiny_model):
    _, model, data = tiny_model
    plain_digits, plain = predict(model, data.test_x[:500])
    digits, calibrated = predict(model, data.test_x[:500], temperature=2.0)
    assert torch.equal(digits, plain_digits) and (calibrated.max(1).values <= plain.max(1).values + 1e-6).all()


def test_predict_prints_the_top_three_and_says_when_unsure(tiny_model, data_dir, tmp_path):
    out, _, data = tiny_model
    images, labels = data.test_x[:4], data.test_y[:4]
    paths = []
    for i, image in enumerate(images):
        paths.append(tmp_path / f"digit{i}.png")
        Image.fromarray(((image[0] * 0.3081 + 0.1307).clamp(0, 1) * 255).byte().numpy()).save(paths[-1])
    Image.fromarray(((torch.rand(28, 28) > 0.5) * 255).byte().numpy()).save(tmp_path / "noise.png")
    result = run_cli("predict", out, *paths, tmp_path / "noise.png", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["predictions"]
    assert [r["digit"] for r in rows[:4]] == labels.tolist()
    for row in rows:
        top = row["top3"]
        assert len(top) == 3 and top[0]["digit"] == row["digit"] and top[0]["probability"] == row["probability"]
        assert top[0]["probability"] >= top[1]["probability"] >= top[2]["probability"]
        assert row["unsure"] == (row["probability"] < UNSURE)
    assert rows[-1]["unsure"], rows[-1]  # random dots are no digit
    text = run_cli("predict", out, tmp_path / "noise.png").stdout
    assert f"(unsure: below {100 * UNSURE:.0f} %)" in text and text.count("%") == 4


def test_predict_without_a_model_names_the_robust_recipe(tmp_path):
    Image.new("L", (28, 28)).save(tmp_path / "digit.png")
    result = run_cli("predict", tmp_path / "digit.png", cwd=tmp_path)  # no runs/robust here
    assert result.returncode == 1 and "train --model robust" in result.stderr


def test_robust_recipe_is_a_wider_fastnet_with_distortions():
    recipe = RECIPES["robust"]
    assert recipe.model == "fast" and recipe.hparams["channels"] == (32, 64)
    assert recipe.config.augment == 2 and isinstance(recipe.config, TrainConfig)


def test_check_set_builder_writes_both_polarities_and_sizes(tmp_path):
    paths = handwriting.build(tmp_path, pens=2, fonts=1, seed=1)
    assert len(paths) == 30 and sorted({p.name[0] for p in paths}) == list("0123456789")
    sizes, light = set(), []
    for path in paths:
        with Image.open(path) as img:
            sizes.add(img.size[0])
            corners = [img.getpixel(c) for c in ((0, 0), (img.size[0] - 1, img.size[1] - 1))]
        light.append(sum(corners) / 2 > 128)
    assert min(sizes) >= 100 and max(sizes) <= 150 and any(light) and not all(light)
    x, y, names = handwriting.load(tmp_path)
    assert x.shape == (30, 1, 28, 28) and y.tolist() == [int(n[0]) for n in names]
