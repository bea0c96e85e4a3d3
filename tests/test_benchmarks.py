"""benchmarks/: the smoke run (one invocation, the three pipelines alternating, a table with every column),
the summary arithmetic, the ablation list, and the seed pipeline's loaders."""
from __future__ import annotations

import json
import re

import torch

from benchmarks import bench
from benchmarks.seed_pipeline import classic_loaders
from mnist_utils import load_mnist


def test_bench_quick_prints_the_table(tmp_path, data_dir, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--data-dir", str(data_dir), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    header = "| pipeline | seed | time to 99.0 % | epochs | test accuracy | wall | load | notes |"
    assert header in text
    rows = [line for line in text.splitlines() if line.startswith("| (")]
    assert [r.split("|")[1].strip() for r in rows] == ["(a) classic", "(b) fast", "(c) best"]
    for row in rows:
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert len(cells) == 8
        assert cells[3] == "1"  # epochs: the quick run caps everything at one
        accuracy = float(cells[4].rstrip(" %"))
        assert 10.0 < accuracy <= 100.0
        assert 0.0 < float(cells[5].rstrip(" s")) < 600.0
        assert re.fullmatch(r"(> )?\d+\.\d s( \(not reached\))?", cells[2])
    assert "speed ratio (a)/(b), time to 99.0 %:" in text and "fast, 1 seed: wall" in text
    saved = json.loads(out.read_text())
    assert saved["quick"] is True and len(saved["rows"]) == 3
    assert [r["pipeline"] for r in saved["rows"]] == ["classic", "fast", "best"]
    assert set(saved["summary"]) == {"fast", "best", "ratio"}


def test_summary_ratio_uses_time_to_target():
    rows = [bench.BenchRow("classic", 0, 300.0, 250.0, 3, 0.991, 0.1),
            bench.BenchRow("fast", 0, 8.0, 8.0, 1, 0.992, 0.1),
            bench.BenchRow("fast", 1, 10.0, 10.0, 1, 0.991, 0.1),
            bench.BenchRow("best", 0, 200.0, 200.0, 8, 0.9965, 0.1)]
    summary = bench.summarize(rows)
    assert summary["ratio"]["value"] == 250.0 / 9.0 and summary["ratio"]["vs_slowest_fast"] == 25.0
    assert summary["fast"]["acc_min"] == 0.991 and summary["best"]["acc_min"] == 0.9965
    assert "27.8x against the median fast run" in bench.format_table(rows, summary)
    rows[0] = bench.BenchRow("classic", 0, 330.0, None, 3, 0.989, 0.1)
    text = bench.format_table(rows, bench.summarize(rows))
    assert "> 330.0 s (not reached)" in text and "at least 36.7x" in text


def test_every_ablation_is_a_valid_fast_config():
    from mnist_utils.cli import build_parser, parse_options
    from mnist_utils.recipes import RECIPES

    base = RECIPES["fast"].config
    changed = set()
    for label, extra in bench.ABLATIONS:
        args = build_parser().parse_args(["train", "--model", "fast", *extra])
        flags = {k: getattr(args, k) for k in ("lr", "batch_size") if getattr(args, k) is not None}
        config = base.replace(**flags, **parse_options(args.options))  # raises on a misspelt option
        diff = {f for f in vars(base) if getattr(config, f) != getattr(base, f)}
        assert bool(diff) == (label != "as shipped"), label
        changed |= diff
    assert {"bf16", "cycle_momentum", "schedule", "betas", "label_smoothing", "batch_size"} <= changed


def test_ablation_table_compares_with_the_shipped_recipe():
    def row(seconds, acc, val):
        return bench.BenchRow("fast", 0, seconds, seconds, 1, acc, 0.1, val_accuracy=val)

    rows = [("as shipped", row(7.0, 0.992, 0.991)), ("float32", row(12.0, 0.990, 0.989)),
            ("as shipped", row(9.0, 0.990, 0.989)), ("float32", row(14.0, 0.988, 0.987))]
    lines = bench.format_ablations(rows).splitlines()
    assert lines[2] == "| as shipped | 2 | 8.0 s | 99.00 % | 99.10 % / 99.00 % | +0.0 s | +0.00 pt |"
    assert lines[3] == "| float32 | 2 | 13.0 s | 98.80 % | 98.90 % / 98.80 % | +5.0 s | -0.20 pt |"


def test_classic_loaders_match_the_tensor_path(data_dir):
    train, val, test = classic_loaders(data_dir, batch_size=32, val_size=1000, train_subset=500, seed=0)
    data = load_mnist(data_dir, val_size=1000, train_subset=500, seed=0)
    assert len(train.dataset) == 500 and len(val.dataset) == 1000 and len(test.dataset) == 10_000
    xb, yb = next(iter(val))
    assert torch.equal(yb, data.val_y[:1000])
    assert torch.allclose(xb, data.val_x[:1000], atol=1e-5)
    x, _ = next(iter(train))
    assert x.shape == (32, 1, 28, 28)
