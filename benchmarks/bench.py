"""Benchmark: the seed pipeline against the fast and best recipes, side by side, in one invocation.

    python -m benchmarks.bench --avx2               # as on an AVX2-only CPU, float32 (about 10 minutes)
    python -m benchmarks.bench                      # this CPU's own kernels (bf16 where native, a GPU if present)
    python -m benchmarks.bench --quick              # smoke run on 2,000 images (a minute; the numbers mean nothing)
    python -m benchmarks.bench --ablate --avx2      # the fast recipe with each of its choices undone in turn

Run from the project root; the package never imports this folder. Round by round, so that a slow spell of the
machine hits every pipeline alike, it runs:

(a) the seed pipeline: torchvision ``DataLoader`` + per-image ``ToTensor``, the historical CNN, batch 64, Adam
    1e-3, epoch by epoch until 99.0 % test accuracy (at most ``--seed-epochs``);
(b) the ``fast`` recipe over ``--seeds``;  (c) ``best`` over ``--best-seeds``;
(d) one epoch of the historical CNN in the course's own loop (``fit``, batches sliced from in-memory tensors).

Each measurement is a process of its own (``benchmarks/measure.py``), which reports its training time taken after a
warm-up, data in memory; its peak memory is read from outside. (b) and (c) also run exactly as a learner types
them, ``python -m mnist_utils train --model fast --seed S --json``: that process's wall time is the "whole
process" column, and its ``train_seconds`` (all of ``fit``) is what the whole process is compared with.
(c) takes its training time from that run too: a warm-up would cost as much as it saves.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from mnist_utils import build_model
from mnist_utils.data import TRAIN_SIZE
from mnist_utils.recipes import RECIPES
from mnist_utils.speed import native_bf16
from mnist_utils.train import select_device

from .measure import TARGET, flops_per_image

AVX2 = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
}


def run(cmd: list[str]) -> tuple[dict, float, float]:
    """Run ``cmd``: (its last stdout line read as JSON, its wall seconds, its own peak memory in MB)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(
            proc.pid, 0
        )  # like wait(), plus this child's resource use (Unix)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if proc.returncode:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({proc.returncode}): {err.read().strip()[-2000:]}"
            )
        return (
            json.loads(out.read().strip().splitlines()[-1]),
            wall,
            usage.ru_maxrss / 1024,
        )  # KB on Linux


def measure(kind: str, **settings) -> dict:
    """A ``benchmarks.measure`` process: its result, plus its whole wall time and peak memory."""
    result, wall, memory = run(
        [sys.executable, "-m", "benchmarks.measure", kind, json.dumps(settings)]
    )
    return {**result, "process_seconds": wall, "peak_mb": memory}


def train_cli(name: str, seed: int, data_dir=None, extra: list[str] = ()) -> dict:
    """``python -m mnist_utils train --model NAME --seed S --json``, as a learner types it, timed whole."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        summary, wall, memory = run(
            [
                sys.executable,
                "-m",
                "mnist_utils",
                "train",
                "--model",
                name,
                "--seed",
                str(seed),
                "--json",
                "--out-dir",
                tmp,
                *(["--data-dir", str(data_dir)] if data_dir else []),
                *extra,
            ]
        )
    return {
        "whole_seconds": wall,
        "cli_train_seconds": summary["train_seconds"],
        "peak_mb": memory,
        "cli_test_accuracy": summary["test_accuracy"],
        "val_accuracy": summary["history"]["val_acc"][-1],
        "cli_epochs": len(summary["history"]["train_loss"]),
    }


@functools.cache  # one FLOP count per recipe, however many rows use it
def recipe_facts(name: str) -> dict:
    """FLOPs per training image (forward + backward) and the precision the recipe runs in here."""
    recipe = RECIPES[name]
    bf16 = recipe.config.bf16 and native_bf16(select_device())
    return {
        "flops_per_image": flops_per_image(build_model(recipe.model, **recipe.hparams)),
        "precision": "bfloat16 autocast" if bf16 else "float32",
    }


def run_all(args) -> tuple[list[dict], float]:
    quick = {"train_subset": 2000} if args.quick else {}
    cli_quick = ["--train-subset", "2000"] if args.quick else []
    peak = measure("peak")["gflops"]
    print(f"float32 matmul peak here: {peak:.0f} GFLOP/s", file=sys.stderr, flush=True)
    rows = []

    def done(pipeline: str, seed: int, result: dict, facts: dict) -> None:
        share = facts["flops_per_image"] * result["images"] / result["train_seconds"] / (peak * 1e9)
        rows.append({"pipeline": pipeline, "seed": seed, **facts, **result, "share_of_peak": share})
        print(
            f"  {pipeline}, seed {seed}: {result['train_seconds']:.1f} s, test {100 * result['test_accuracy']:.2f} %",
            file=sys.stderr,
            flush=True,
        )

    for i in range(max(len(args.seeds), len(args.best_seeds), 1)):
        if i == 0 and args.seed_epochs:
            a = measure("seed", data_dir=args.data_dir, max_epochs=args.seed_epochs, **quick)
            epochs = len(a["epoch_seconds"])
            reached = a["test_accuracies"][-1] >= TARGET
            a |= {
                "train_seconds": a["epoch_seconds"][0],
                "test_accuracy": a["test_accuracies"][0],
                "epochs_to_target": epochs if reached else None,
                "epochs": epochs,
            }
            done("(a) seed pipeline", 0, a, recipe_facts("cnn"))
        if i < len(args.seeds):
            b = measure("recipe", name="fast", seed=args.seeds[i], data_dir=args.data_dir, **quick)
            done(
                "(b) fast",
                args.seeds[i],
                b | train_cli("fast", args.seeds[i], args.data_dir, cli_quick),
                recipe_facts("fast"),
            )
        if i < len(args.best_seeds):
            small = ["--lr", "0.05", "--batch-size", "64", "--epochs", "1"] if args.quick else []
            c = train_cli("best", args.best_seeds[i], args.data_dir, cli_quick + small)
            images = 2000 if args.quick else TRAIN_SIZE - 5000  # the CLI's default validation split
            c |= {
                "train_seconds": c["cli_train_seconds"],
                "test_accuracy": c["cli_test_accuracy"],
                "images": c["cli_epochs"] * images,
                "epochs": c["cli_epochs"],
            }
            done("(c) best", args.best_seeds[i], c, recipe_facts("best"))
        if i == 0 and args.course_cnn:
            d = measure("recipe", name="cnn", data_dir=args.data_dir, config={"epochs": 1}, **quick)
            done("(d) course loop, CNN", 0, d, recipe_facts("cnn"))
    return rows, peak


def summarize(rows: list[dict]) -> dict:
    """The goals of the speed issue, as ratios of times measured in this one run."""
    seed = next((r for r in rows if r["pipeline"].startswith("(a)")), None)
    fast = [r for r in rows if r["pipeline"] == "(b) fast"]
    best = [r for r in rows if r["pipeline"] == "(c) best"]
    out: dict = {}
    if seed:
        out["seed"] = {
            "first_epoch": seed["train_seconds"],
            "epochs_to_target": seed["epochs_to_target"],
            "epochs_run": seed["epochs"],
            "accuracies": seed["test_accuracies"],
        }
    if fast:
        train = statistics.median(r["train_seconds"] for r in fast)
        out["fast"] = {
            "seeds": len(fast),
            "train_median": train,
            "train_max": max(r["train_seconds"] for r in fast),
            "acc_min": min(r["test_accuracy"] for r in fast),
            "reached": sum(r["test_accuracy"] >= TARGET for r in fast),
            "whole_median": statistics.median(r["whole_seconds"] for r in fast),
            "whole_minus_train": statistics.median(
                r["whole_seconds"] - r["cli_train_seconds"] for r in fast
            ),
        }
        if seed:
            out["fast"]["seed_epoch_over_fast"] = seed["train_seconds"] / train
    if best:
        out["best"] = {
            "acc_min": min(r["test_accuracy"] for r in best),
            "train_max": max(r["train_seconds"] for r in best),
        }
        if seed:
            out["best"]["in_seed_epochs"] = out["best"]["train_max"] / seed["train_seconds"]
    return out


def format_table(rows: list[dict], summary: dict) -> str:
    lines = [
        (
            "| pipeline | seed | training | whole process | peak memory | test accuracy | MFLOP per image "
            "| share of matmul peak |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        whole = r.get("whole_seconds", r.get("process_seconds"))
        lines.append(
            f"| {r['pipeline']} | {r['seed']} | {r['train_seconds']:.1f} s | {whole:.1f} s | "
            f"{r['peak_mb']:.0f} MB | {100 * r['test_accuracy']:.2f} % | {r['flops_per_image'] / 1e6:.1f} | "
            f"{100 * r['share_of_peak']:.0f} % |"
        )
    notes = []
    if "seed" in summary:
        s = summary["seed"]
        reached = (
            f"reached 99.0 % after {s['epochs_to_target']} epochs"
            if s["epochs_to_target"]
            else f"not 99.0 % within {s['epochs_run']} epochs"
        )
        notes.append(
            f"(a) first epoch {s['first_epoch']:.1f} s; test accuracy by epoch "
            f"{', '.join(f'{100 * a:.2f} %' for a in s['accuracies'])}: {reached}"
        )
    if "fast" in summary:
        f = summary["fast"]
        notes.append(
            f"(b) fast, {f['seeds']} seed(s): training median {f['train_median']:.2f} s (max "
            f"{f['train_max']:.2f} s); {f['reached']} of {f['seeds']} at >= 99.0 % (min "
            f"{100 * f['acc_min']:.2f} %); whole process median {f['whole_median']:.1f} s, "
            f"{f['whole_minus_train']:.1f} s more than its train_seconds"
        )
        if "seed_epoch_over_fast" in f:
            notes.append(
                f"(a) first epoch / (b) median training: {f['seed_epoch_over_fast']:.1f}x (goal: >= 24x)"
            )
    if "best" in summary and "in_seed_epochs" in summary["best"]:
        b = summary["best"]
        notes.append(
            f"(c) best: {100 * b['acc_min']:.2f} % in {b['train_max']:.1f} s = "
            f"{b['in_seed_epochs']:.2f} seed-pipeline epochs (goal: >= 99.6 % within 2.5)"
        )
    return "\n".join(lines + [""] + [f"- {n}" for n in notes])


def cpu_model() -> str:
    info = Path("/proc/cpuinfo")
    for line in info.read_text().splitlines() if info.exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4], help="seeds of the fast recipe"
    )
    parser.add_argument(
        "--best-seeds", type=int, nargs="*", default=[0], help="seeds of the best recipe"
    )
    parser.add_argument(
        "--seed-epochs", type=int, default=5, help="epoch cap of the seed pipeline (0: skip it)"
    )
    parser.add_argument("--no-course-cnn", dest="course_cnn", action="store_false", help="skip (d)")
    parser.add_argument(
        "--data-dir", help="folder holding MNIST/raw/ (default: $MNIST_DATA_DIR, else data/)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 2,000 images, one epoch each, one seed"
    )
    parser.add_argument(
        "--ablate", action="store_true", help="instead: the fast recipe, each choice undone in turn"
    )
    parser.add_argument(
        "--avx2", action="store_true", help="cap the kernels at AVX2 (float32): an AVX2-only CPU"
    )
    parser.add_argument("--json", metavar="PATH", help="also write every figure to this JSON file")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.avx2:  # inherited by every process this run starts
        os.environ.update(AVX2)
    os.environ["MNIST_NO_PROGRESS"] = "1"
    if args.quick:
        args.seeds, args.best_seeds, args.seed_epochs = (
            args.seeds[:1],
            args.best_seeds[:1],
            min(args.seed_epochs, 1),
        )
    subprocess.run(
        [sys.executable, "-c", "import mnist_utils"], check=True
    )  # torch's libraries into the file cache
    device = select_device()
    header = (
        f"{cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} "
        f"threads, device {device}{', kernels capped at AVX2' if args.avx2 else ''}, recipes in "
        f"{'bfloat16 autocast' if native_bf16(device) else 'float32'}, load {os.getloadavg()[0]:.1f}"
    )
    print(header, flush=True)
    if args.ablate:
        from .ablate import run_ablations

        table, rows = run_ablations(args)
        print(table)
        result = {"ablations": rows}
    else:
        rows, peak = run_all(args)
        summary = summarize(rows)
        print(f"float32 matmul peak here: {peak:.0f} GFLOP/s\n\n{format_table(rows, summary)}")
        result = {"rows": rows, "summary": summary, "peak_gflops": peak}
    if args.json:
        Path(args.json).write_text(
            json.dumps({"machine": header, "quick": args.quick, **result}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
