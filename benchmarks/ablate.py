"""The ablation (``python -m benchmarks.bench --ablate``): the fast recipe with one choice undone at a time.

Every variant runs in a process of its own (``benchmarks/measure.py``: training timed after a warm-up, data in
memory), once per seed, variants alternating within each seed so that a slow spell of the machine hits them alike.
"""

from __future__ import annotations

import statistics
import sys

FIRST_FASTNET = {
    "stride": 1,
    "stride2": 1,
    "channels": (16, 32),
}  # nothing strided, max-pooled twice


def step_as_it_was(**config) -> dict:
    """The changes that undo 2026-11-24's step: batch 256, Adam not fused, ReLUs that copy (plus ``config``)."""
    return {"config": {"batch_size": 256, "fused": False, **config}, "relu_inplace": False}


# label -> changes to the fast recipe: TrainConfig fields, the network's hyperparameters, whether ReLUs work in place
ABLATIONS: dict[str, dict] = {
    "as shipped": {},
    "ReLU not in place (a copy of every activation)": {"relu_inplace": False},
    "torch.optim's default Adam (not fused)": {"config": {"fused": False}},
    "batch 256": {"config": {"batch_size": 256}},
    "all three: the step as it was (batch 256, Adam not fused, ReLU copying)": step_as_it_was(),
    "NCHW (no channels_last)": {"config": {"channels_last": False}},
    "the previous FastNet (3x3 conv max-pooled, no BatchNorm, 16/32 channels)": {
        "hparams": {"stride2": 1, "channels": (16, 32)}
    },
    "16/32 channels instead of 24/32": {"hparams": {"channels": (16, 32)}},
    "the first FastNet (no strided convolution, 16/32 channels)": {"hparams": FIRST_FASTNET},
    "the first fast recipe (that, in NCHW, with the step as it was)": {
        **step_as_it_was(channels_last=False),
        "hparams": FIRST_FASTNET,
    },
    "OneCycleLR also cycling beta1 (its default)": {"config": {"cycle_momentum": True}},
    "constant lr 2e-3 (no OneCycle)": {"config": {"schedule": "constant", "lr": 2e-3}},
    "Adam's default betas (0.9, 0.999)": {"config": {"betas": (0.9, 0.999)}},
    "no label smoothing": {"config": {"label_smoothing": 0.0}},
    "batch 128": {"config": {"batch_size": 128}},
    "batch 512": {"config": {"batch_size": 512}},
    "1 thread": {"config": {"threads": 1}},
    "as shipped, again: last in its round": {},  # the same run twice shows how much the order of a round moves times
}


def run_ablations(args) -> tuple[str, list[dict]]:
    from .bench import measure

    quick = {"train_subset": 2000} if args.quick else {}
    rows = []
    for seed in args.seeds:
        for label, change in ABLATIONS.items():
            result = measure(
                "recipe", name="fast", seed=seed, data_dir=args.data_dir, **change, **quick
            )
            rows.append({"variant": label, "seed": seed, **result})
            print(
                f"  {label}, seed {seed}: {result['train_seconds']:.2f} s, test "
                f"{100 * result['test_accuracy']:.2f} %",
                file=sys.stderr,
                flush=True,
            )
    return format_ablations(rows), rows


def format_ablations(rows: list[dict]) -> str:
    lines = [
        (
            "| fast recipe variant | seeds | training (median) | val accuracy (mean) | test accuracy (mean / min) "
            "| change in training | change in test accuracy |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    base = None
    for label in dict.fromkeys(r["variant"] for r in rows):
        group = [r for r in rows if r["variant"] == label]
        seconds = statistics.median(r["train_seconds"] for r in group)
        test = [r["test_accuracy"] for r in group]
        base = base or (seconds, statistics.mean(test))
        lines.append(
            f"| {label} | {len(group)} | {seconds:.2f} s | "
            f"{100 * statistics.mean(r['val_accuracy'] for r in group):.2f} % | "
            f"{100 * statistics.mean(test):.2f} % / {100 * min(test):.2f} % | {seconds - base[0]:+.2f} s | "
            f"{100 * (statistics.mean(test) - base[1]):+.2f} pt |"
        )
    return "\n".join(lines)
