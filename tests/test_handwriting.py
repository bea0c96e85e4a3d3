"""Handwriting from outside MNIST: the distortions of the robust recipe, temperature scaling, predict's top 3 and
'unsure', and the check set (mnist_utils/check_set.py, benchmarks/handwriting.py)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_cli import run_cli

from mnist_utils import RECIPES, TrainConfig, check_set, fit, load_mnist, predict, save_model
from mnist_utils.distort import RandomDistort
from mnist_utils.evaluate import UNSURE, fit_temperature

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import handwriting


def test_random_distort_moves_strokes_keeps_the_background_and_repeats_with_its_seed():
    x = torch.full((64, 1, 28, 28), -0.42)  # MNIST-normalized black
    x[:, :, 6:22, 13:15] = 2.8  # a "1"
    out = RandomDistort(2, seed=3)(x)
    assert out.shape == x.shape and torch.equal(out, RandomDistort(2, seed=3)(x))
    assert not torch.equal(out, RandomDistort(2, seed=4)(x))
    assert (
        out[:, :, :3, :3] - -0.42
    ).abs().max() < 0.5  # background stays background (plus a little noise)
    ink = (out > 1).flatten(1).sum(1).float()
    assert ink.min() < 0.6 * 32 and ink.max() > 1.5 * 32  # thinner and thicker strokes among the 64
    columns = [(out[i, 0] > 1).nonzero()[:, 1].float() for i in range(64)]
    assert max(float(c.max() - c.min()) for c in columns if len(c)) >= 4  # some slanted or rotated


def test_random_distort_bends_strokes_and_makes_blocks_and_gaps():
    x = torch.full((64, 1, 28, 28), -0.42)
    x[:, :, 4:24, 13:15] = 2.8
    stiff = RandomDistort(0, seed=5, elastic=0).warp(x)  # the same draws, without the field
    bent = RandomDistort(0, seed=5).warp(x)
    moved = (bent - stiff).abs().flatten(1).amax(1)
    assert (moved > 1).float().mean() > 0.5  # the elastic field alone moves most strokes
    pens = RandomDistort(0, seed=5).change_pen(x)
    unchanged = (pens == x).flatten(1).all(1)
    blurred_top = (pens[:, 0, 3] > -0.4).flatten(1).any(1)  # ink spread into the row above the 1
    assert 0 < unchanged.sum() < 32 and blurred_top.sum() >= 16  # thicker, blurred, coarse scans
    gaps = RandomDistort(0, seed=5).gap(
        torch.full((8, 1, 28, 28), 2.8).index_put_(
            (
                torch.arange(8),
                torch.zeros(8, dtype=torch.long),
                torch.zeros(8, dtype=torch.long),
                torch.zeros(8, dtype=torch.long),
            ),
            torch.tensor(-0.42),
        )
    )
    assert ((gaps == -0.42).flatten(1).sum(1) == 1 + 16).all()  # a 4x4 hole in each, of background


def test_temperature_scaling_recovers_a_known_temperature():
    generator = torch.Generator().manual_seed(0)
    logits = 4 * torch.randn(5000, 10, generator=generator)
    labels = torch.multinomial(
        (logits / 2.5).softmax(1), 1, generator=generator
    ).flatten()  # true T = 2.5

    class Fixed(torch.nn.Module):  # a "model" whose logits are the ones above, in order
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def forward(self, index):
            return logits[index.flatten().long()] * self.w

    assert fit_temperature(Fixed(), (torch.arange(5000.0)[:, None], labels)) == pytest.approx(
        2.5, rel=0.1
    )


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
    assert (
        torch.equal(digits, plain_digits)
        and (calibrated.max(1).values <= plain.max(1).values + 1e-6).all()
    )


def test_predict_prints_the_top_three_and_says_when_unsure(tiny_model, data_dir, tmp_path):
    out, _, data = tiny_model
    images, labels = data.test_x[:4], data.test_y[:4]
    paths = []
    for i, image in enumerate(images):
        paths.append(tmp_path / f"digit{i}.png")
        Image.fromarray(((image[0] * 0.3081 + 0.1307).clamp(0, 1) * 255).byte().numpy()).save(
            paths[-1]
        )
    Image.fromarray(((torch.rand(28, 28) > 0.5) * 255).byte().numpy()).save(tmp_path / "noise.png")
    result = run_cli("predict", out, *paths, tmp_path / "noise.png", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["predictions"]
    assert [r["digit"] for r in rows[:4]] == labels.tolist()
    for row in rows:
        top = row["top3"]
        assert (
            len(top) == 3
            and top[0]["digit"] == row["digit"]
            and top[0]["probability"] == row["probability"]
        )
        assert top[0]["probability"] >= top[1]["probability"] >= top[2]["probability"]
        assert row["unsure"] == (row["probability"] < UNSURE)
    assert rows[-1]["unsure"], rows[-1]  # random dots are no digit
    text = run_cli("predict", out, tmp_path / "noise.png").stdout
    assert f"(unsure: below {100 * UNSURE:.0f} %)" in text and text.count("%") == 4


def test_predict_without_a_model_names_the_robust_recipe(tmp_path):
    Image.new("L", (28, 28)).save(tmp_path / "digit.png")
    result = run_cli("predict", tmp_path / "digit.png", cwd=tmp_path)  # no runs/robust here
    assert result.returncode == 2 and "train --model robust" in result.stderr  # bad input: exit 2


def test_robust_recipe_is_the_best_network_on_distortions():
    recipe = RECIPES["robust"]
    assert recipe.model == "best" and recipe.hparams["widths"] == (16, 32, 64)
    assert (
        isinstance(recipe.config, TrainConfig)
        and recipe.config.distort
        and recipe.config.augment == 2
    )


def test_check_set_has_three_styles_and_repeats_with_its_seed(tmp_path):
    paths = handwriting.build(tmp_path / "a", per_style=2, seed=1)
    assert len(paths) == 60 and sorted({p.name[0] for p in paths}) == list("0123456789")
    assert {p.name.split("_")[1] for p in paths} == set(check_set.STYLES)
    again = check_set.build(tmp_path / "b", per_style=2, seed=1)
    other = check_set.build(tmp_path / "c", per_style=2, seed=2)
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(paths, again))
    assert sum(a.read_bytes() != c.read_bytes() for a, c in zip(paths, other)) > 50
    x, y, names = handwriting.load(tmp_path / "a")
    assert x.shape == (60, 1, 28, 28) and y.tolist() == [int(n[0]) for n in names]
    by_style = check_set.accuracy_by(y, y, names, key="style")
    assert set(by_style.index) == set(check_set.STYLES) and (by_style == 100).all()


def _blocks(pixels: np.ndarray) -> int:
    """The side of the squares a picture is made of (1: none), as nearest-neighbour scaling makes."""
    for side in range(12, 1, -1):
        squares = np.repeat(np.repeat(pixels[::side, ::side], side, 0), side, 1)
        if pixels.shape[0] % side == 0 and np.array_equal(squares, pixels):
            return side
    return 1


def test_check_set_styles_look_as_described(tmp_path):
    for path in check_set.build(tmp_path, per_style=3, seed=0):
        pixels = np.asarray(Image.open(path).convert("L"))
        style = path.name.split("_")[1]
        corners = [pixels[0, 0], pixels[0, -1], pixels[-1, 0], pixels[-1, -1]]
        if style == "ink":  # dark ink on light paper
            assert min(corners) > 100 and pixels.min() < min(corners) - 60, path.name
        if style == "blocky":  # white on black, drawn on 8-16 px and scaled up
            assert max(corners) == 0 and 8 <= pixels.shape[0] // _blocks(pixels) <= 16, path.name


def test_flags_and_bases_go_on_upright_ones_only():
    from mnist_utils.distort import add_flags

    x = torch.full((64, 1, 28, 28), -0.42)
    x[:, :, 4:24, 13:15] = 2.8  # an upright "1"
    labels = torch.tensor([1, 7] * 32)
    out = add_flags(x, labels, torch.Generator().manual_seed(0), share=0.5)
    changed = (out != x).flatten(1).any(1)
    assert (
        not changed[labels == 7].any() and 8 < changed[labels == 1].sum() < 28
    )  # about half the 1s
    flagged = out[changed]
    assert (flagged[:, 0, 4:10, 5:12] == 2.8).flatten(1).any(1).all()  # ink left of the stem's top
    assert torch.equal(add_flags(x, labels, torch.Generator().manual_seed(0), share=0.5), out)
    assert RandomDistort(2, seed=0)(x, labels).shape == x.shape  # how training passes the labels
    leaning_left = torch.full((8, 1, 28, 28), -0.42)
    for row in range(4, 24):
        leaning_left[:, :, row, 8 + row // 2 : 10 + row // 2] = 2.8  # a "1" leaning like a 7's stem
    ones = torch.ones(8, dtype=torch.long)
    assert torch.equal(add_flags(leaning_left, ones, torch.Generator()), leaning_left)
