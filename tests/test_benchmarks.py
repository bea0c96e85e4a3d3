"""benchmarks/: the smoke run (one invocation, the four pipelines, a table with every column), the FLOP count,
the summary arithmetic, the ablation list and table, and the seed pipeline's loaders."""

from __future__ import annotations

import json

import torch

from benchmarks import bench
from benchmarks.ablate import ABLATIONS, format_ablations
from benchmarks.measure import flops_per_image
from benchmarks.seed_pipeline import classic_loaders
from mnist_utils import build_model, load_mnist
from mnist_utils.recipes import RECIPES


def test_bench_quick_prints_the_table(tmp_path, data_dir, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--data-dir", str(data_dir), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].startswith(bench.cpu_model()) and "threads" in text.splitlines()[0]
    rows = [line for line in text.splitlines() if line.startswith("| (")]
    assert [r.split("|")[1].strip() for r in rows] == [
        "(a) seed pipeline",
        "(b) fast",
        "(c) best",
        "(d) course loop, CNN",
    ]
    for row in rows:
        cells = [c.strip() for c in row.split("|")[1:-1]]
        training, whole, memory = (float(cells[i].split()[0]) for i in (2, 3, 4))
        assert (
            0 < training < whole < 600 and 100 < memory < 20_000
        )  # a whole process outlasts its training
        assert (
            10.0 < float(cells[5].rstrip(" %")) <= 100.0 and 0 < float(cells[7].rstrip(" %")) <= 100
        )
    mflops = {r.split("|")[1].strip(): float(r.split("|")[7]) for r in rows}
    assert mflops["(a) seed pipeline"] == mflops["(d) course loop, CNN"] > 10 * mflops["(b) fast"]
    assert "(a) first epoch / (b) median training:" in text and "seed-pipeline epochs" in text
    saved = json.loads(out.read_text())
    assert (
        saved["quick"] is True
        and len(saved["rows"]) == 4
        and set(saved["summary"]) == {"seed", "fast", "best"}
    )


def test_flops_per_image_counts_forward_and_backward():
    layer = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    # forward 2 * 784 * 10; backward: the weight gradient only (the input needs none), same again
    assert flops_per_image(layer) == 2 * (2 * 784 * 10)


def test_summary_compares_within_the_run():
    seed = {
        "pipeline": "(a) seed pipeline",
        "train_seconds": 120.0,
        "epochs_to_target": 3,
        "epochs": 3,
        "test_accuracies": [0.985, 0.988, 0.991],
    }
    fast = [
        {
            "pipeline": "(b) fast",
            "train_seconds": t,
            "test_accuracy": a,
            "whole_seconds": t + 3,
            "cli_train_seconds": t + 1,
        }
        for t, a in ((4.0, 0.991), (5.0, 0.992), (6.0, 0.989))
    ]
    best = {"pipeline": "(c) best", "train_seconds": 270.0, "test_accuracy": 0.9962}
    summary = bench.summarize([seed, *fast, best])
    assert summary["fast"]["seed_epoch_over_fast"] == 24.0 and summary["fast"]["reached"] == 2
    assert summary["fast"]["whole_minus_train"] == 2.0 and summary["best"]["in_seed_epochs"] == 2.25


def test_every_ablation_builds_a_valid_fast_run():
    base = RECIPES["fast"]
    changed = set()
    for label, change in ABLATIONS.items():
        config = base.config.replace(**change.get("config", {}))  # raises on a misspelt field
        build_model(base.model, **{**base.hparams, **change.get("hparams", {})})
        diff = {f for f in vars(base.config) if getattr(config, f) != getattr(base.config, f)}
        undone = diff or change.get("hparams") or change.get("relu_inplace") is False
        assert bool(undone) == (not label.startswith("as shipped")), label
        changed |= diff
    assert {
        "channels_last",
        "cycle_momentum",
        "schedule",
        "betas",
        "label_smoothing",
        "batch_size",
        "fused",
    } <= changed


def test_ablation_table_compares_with_the_shipped_recipe():
    def row(variant, seconds, acc, val):
        return {
            "variant": variant,
            "train_seconds": seconds,
            "test_accuracy": acc,
            "val_accuracy": val,
        }

    rows = [
        row("as shipped", 3.0, 0.992, 0.991),
        row("NCHW", 5.0, 0.990, 0.989),
        row("as shipped", 4.0, 0.990, 0.989),
        row("NCHW", 6.0, 0.988, 0.987),
    ]
    lines = format_ablations(rows).splitlines()
    assert (
        lines[2] == "| as shipped | 2 | 3.50 s | 99.00 % | 99.10 % / 99.00 % | +0.00 s | +0.00 pt |"
    )
    assert lines[3] == "| NCHW | 2 | 5.50 s | 98.80 % | 98.90 % / 98.80 % | +2.00 s | -0.20 pt |"


def test_classic_loaders_match_the_tensor_path(data_dir):
    train, val, test = classic_loaders(
        data_dir, batch_size=32, val_size=1000, train_subset=500, seed=0
    )
    data = load_mnist(data_dir, val_size=1000, train_subset=500, seed=0)
    assert len(train.dataset) == 500 and len(val.dataset) == 1000 and len(test.dataset) == 10_000
    xb, yb = next(iter(val))
    assert torch.equal(yb, data.val_y[:1000])
    assert torch.allclose(xb, data.val_x[:1000], atol=1e-5)
    x, _ = next(iter(train))
    assert x.shape == (32, 1, 28, 28)
