"""Benchmark: the classic pipeline against the fast and best recipes, on this machine, in one invocation.

    python -m benchmarks.bench                      # full run: classic (cap 3 epochs), fast x 5 seeds, best x 1
    python -m benchmarks.bench --quick              # smoke run on small subsets (about a minute)
    python -m benchmarks.bench --ablate --seeds 0 1 # the fast recipe with each of its tricks undone in turn
    python -m benchmarks.bench --ablate --avx2      # the same as on a CPU with AVX2 only, in float32

Run from the project root. The package never imports this folder.

The runs alternate, round by round: (a) classic, (b) fast seed 0, (c) best, then (b) for the other seeds,
so the three share the machine's conditions. (a) is the project's original pipeline: torchvision
``datasets.MNIST`` + per-image ``ToTensor``/``Normalize`` + ``DataLoader``, the historical CNN, batch 64,
Adam 1e-3, trained epoch by epoch until the test accuracy reaches 99.0 % or the epoch cap; its time
counts the pipeline setup (torchvision import included) and training, not the monitoring test passes.
(b) and (c) run as whole processes, exactly as a learner types them
(``python -m mnist_utils train --model fast --seed S --json``), so their time counts the interpreter
start, imports, data loading, training, the test evaluation and saving the model files and figure
(with a warm file cache: see ``run_recipe``).
All three train on the same 55,000 images (5,000 held out for validation) and report accuracy on the
official 10,000-image test set.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

TARGET = 0.99


@dataclass
class BenchRow:
    pipeline: str  # "classic", "fast" or "best"
    seed: int
    seconds: float  # wall time of the whole run (classic: setup + training, monitoring passes excluded)
    time_to_target: float | None  # seconds until test accuracy >= 99.0 %, None if never reached
    epochs: int
    test_accuracy: float
    load: float  # 1-minute load average when the run started
    notes: str = ""
    epoch_accuracy: list[float] = field(default_factory=list)
    val_accuracy: float | None = None  # last epoch's validation accuracy (recipes only)


def _loadavg() -> float:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")


def run_classic(data_dir, *, epochs: int, seed: int = 0, train_subset: int | None = None) -> BenchRow:
    """(a): DataLoader + ToTensor, historical CNN, batch 64, Adam 1e-3, until 99.0 % test or ``epochs``."""
    load = _loadavg()
    start = time.perf_counter()
    from mnist_utils import build_model, evaluate, fit
    from mnist_utils.train import seed_everything

    from .seed_pipeline import classic_loaders

    train, _, test = classic_loaders(data_dir, batch_size=64, val_size=5000, train_subset=train_subset, seed=seed)
    seed_everything(seed)  # as fit does, so the model starts from the weights fit("cnn") would build
    model = build_model("cnn")
    excluded, reached, accuracies = 0.0, None, []

    def monitor(history) -> bool:  # after every epoch: test accuracy, its time left out of the count
        nonlocal excluded, reached
        t0 = time.perf_counter()
        elapsed = t0 - start - excluded
        accuracies.append(evaluate(model, test).accuracy)
        excluded += time.perf_counter() - t0
        if accuracies[-1] >= TARGET:
            reached = elapsed
            return True
        return False

    _, history = fit(model, (train, None), epochs=epochs, batch_size=64, lr=1e-3, optimizer="adam",
                     seed=seed, device="cpu", callback=monitor, progress=False)
    seconds = time.perf_counter() - start - excluded
    return BenchRow("classic", seed, seconds, reached, history.epochs, accuracies[-1], load,
                    notes="" if reached is not None else f"99.0 % not reached in {epochs} epochs (cap)",
                    epoch_accuracy=accuracies)


def run_recipe(name: str, data_dir, *, seed: int, extra: list[str] | None = None) -> BenchRow:
    """(b)/(c): ``python -m mnist_utils train --model NAME --seed S --json`` as a whole process, timed from outside."""
    load = _loadavg()
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        cmd = [sys.executable, "-m", "mnist_utils", "train", "--model", name, "--seed", str(seed), "--json",
               "--out-dir", tmp, "--figure", str(Path(tmp) / "curves.png")]
        if data_dir is not None:
            cmd += ["--data-dir", str(data_dir)]
        cmd += list(extra or [])
        env = {**os.environ, "MNIST_NO_PROGRESS": "1", **AVX2_ENV}
        # An untimed import first, so every run starts with torch's libraries in the file cache: the CUDA
        # build's first import after they were evicted reads about 1 GB and takes 5-20 s on these disks,
        # which would measure the disk and the page cache, not the recipe.
        subprocess.run([sys.executable, "-c", "import mnist_utils"], env=env, check=True)
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    accuracy = summary["test_accuracy"]
    val = summary["history"]["val_acc"]
    return BenchRow(name, seed, seconds, seconds if accuracy >= TARGET else None,
                    len(summary["history"]["train_loss"]), accuracy, load,
                    notes=f"in-process: training {summary['train_seconds']:.1f} s, "
                          f"load+train+test+save {summary['total_seconds']:.1f} s",
                    val_accuracy=val[-1] if val else None)


# The fast recipe with one of its choices undone (or changed) at a time: what each trick buys.
ABLATIONS: list[tuple[str, list[str]]] = [
    ("as shipped", []),
    ("no bf16 (float32, NCHW)", ["--set", "bf16=false"]),
    ("OneCycleLR also cycling beta1 (its default)", ["--set", "cycle_momentum=true"]),
    ("constant lr 2e-3 (no OneCycle)", ["--set", "schedule=constant", "--lr", "0.002"]),
    ("Adam's default betas (0.9, 0.999)", ["--set", "betas=[0.9,0.999]"]),
    ("no label smoothing", ["--set", "label_smoothing=0"]),
    ("batch 128", ["--batch-size", "128"]),
    ("batch 512", ["--batch-size", "512"]),
    ("1 thread", ["--set", "threads=1"]),
]


AVX2_ENV: dict[str, str] = {}  # set by --avx2 for every recipe run


def run_ablations(data_dir, seeds: list[int], extra: list[str]) -> list[tuple[str, BenchRow]]:
    """Every variant once per seed, round by round, so a slow spell of the machine hits all variants alike."""
    rows = []
    for seed in seeds:
        for label, args in ABLATIONS:
            row = run_recipe("fast", data_dir, seed=seed, extra=extra + args)
            print(f"  {label}, seed {seed}: {row.seconds:.1f} s, test {100 * row.test_accuracy:.2f} %",
                  file=sys.stderr, flush=True)
            rows.append((label, row))
    return rows


def format_ablations(rows: list[tuple[str, BenchRow]]) -> str:
    lines = [("| fast recipe variant | seeds | wall (median) | val accuracy (mean) | test accuracy (mean / min) |"
              " change in wall | change in test accuracy |"), "| --- | --- | --- | --- | --- | --- | --- |"]
    groups: dict[str, list[BenchRow]] = {}
    for label, row in rows:
        groups.setdefault(label, []).append(row)
    base_wall = base_acc = None
    for label, group in groups.items():
        wall = statistics.median(r.seconds for r in group)
        acc = statistics.mean(r.test_accuracy for r in group)
        vals = [r.val_accuracy for r in group if r.val_accuracy is not None]
        val = f"{100 * statistics.mean(vals):.2f} %" if vals else "n/a"
        if base_wall is None:
            base_wall, base_acc = wall, acc
        lines.append(f"| {label} | {len(group)} | {wall:.1f} s | {val} | {100 * acc:.2f} % / "
                     f"{100 * min(r.test_accuracy for r in group):.2f} % | {wall - base_wall:+.1f} s | "
                     f"{100 * (acc - base_acc):+.2f} pt |")
    return "\n".join(lines)


def _fmt_time(row: BenchRow) -> str:
    if row.time_to_target is None:
        return f"> {row.seconds:.1f} s (not reached)"
    return f"{row.time_to_target:.1f} s"


def summarize(rows: list[BenchRow]) -> dict:
    classic = [r for r in rows if r.pipeline == "classic"]
    fast = [r for r in rows if r.pipeline == "fast"]
    best = [r for r in rows if r.pipeline == "best"]
    out: dict = {}
    if fast:
        walls = [r.seconds for r in fast]
        out["fast"] = {"seeds": len(fast), "wall_min": min(walls), "wall_median": statistics.median(walls),
                       "wall_max": max(walls), "acc_min": min(r.test_accuracy for r in fast),
                       "acc_mean": statistics.mean(r.test_accuracy for r in fast),
                       "all_reached": all(r.time_to_target is not None for r in fast)}
    if best:
        out["best"] = {"runs": len(best), "wall_max": max(r.seconds for r in best),
                       "acc_min": min(r.test_accuracy for r in best)}
    if classic and fast:
        a = classic[0]
        a_time = a.time_to_target if a.time_to_target is not None else a.seconds
        reached = all(r.time_to_target is not None for r in fast)
        out["ratio"] = {"value": a_time / statistics.median(r.seconds for r in fast) if reached else None,
                        "vs_slowest_fast": a_time / max(r.seconds for r in fast) if reached else None,
                        "lower_bound": a.time_to_target is None}
    return out


def format_table(rows: list[BenchRow], summary: dict) -> str:
    lines = ["| pipeline | seed | time to 99.0 % | epochs | test accuracy | wall | load | notes |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    label = {"classic": "(a) classic", "fast": "(b) fast", "best": "(c) best"}
    for r in rows:
        lines.append(f"| {label.get(r.pipeline, r.pipeline)} | {r.seed} | {_fmt_time(r)} | {r.epochs} | "
                     f"{100 * r.test_accuracy:.2f} % | {r.seconds:.1f} s | {r.load:.1f} | {r.notes} |")
    text = "\n".join(lines)
    if "fast" in summary:
        f = summary["fast"]
        text += (f"\n\nfast, {f['seeds']} seed{'s' if f['seeds'] != 1 else ''}: wall {f['wall_min']:.1f} / {f['wall_median']:.1f} / "
                 f"{f['wall_max']:.1f} s (min / median / max), test accuracy min {100 * f['acc_min']:.2f} %, "
                 f"mean {100 * f['acc_mean']:.2f} %")
    if "best" in summary:
        b = summary["best"]
        text += (f"\nbest, {b['runs']} run(s): wall max {b['wall_max']:.1f} s, "
                 f"test accuracy min {100 * b['acc_min']:.2f} %")
    if "ratio" in summary:
        r = summary["ratio"]
        bound = "at least " if r["lower_bound"] else ""
        if r["value"] is None:
            text += "\nspeed ratio (a)/(b), time to 99.0 %: n/a (a fast run did not reach 99.0 %)"
        else:
            text += (f"\nspeed ratio (a)/(b), time to 99.0 %: {bound}{r['value']:.1f}x against the median fast run "
                     f"({bound}{r['vs_slowest_fast']:.1f}x against the slowest)")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="seeds of the fast recipe")
    parser.add_argument("--best-seeds", type=int, nargs="*", default=[0], help="seeds of the best recipe (none: skip)")
    parser.add_argument("--classic-epochs", type=int, default=3,
                        help="epoch cap of the classic pipeline (0: skip it); about 110 s per epoch on 2 cores")
    parser.add_argument("--data-dir", help="folder holding MNIST/raw/ (default: $MNIST_DATA_DIR, else data/)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2,000 training images, 1 epoch each, one seed (numbers mean nothing)")
    parser.add_argument("--ablate", action="store_true",
                        help="instead: the fast recipe with each trick undone in turn, once per --seeds")
    parser.add_argument("--avx2", action="store_true",
                        help="run the recipes as on a CPU with AVX2 only: kernels capped at AVX2, float32")
    parser.add_argument("--json", metavar="PATH", help="also write the rows and summary to this JSON file")
    return parser


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.avx2:  # ATen's and oneDNN's kernels capped at AVX2, and no bf16: what an AVX2-only CPU runs
        AVX2_ENV.update(ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2")
    import torch

    from mnist_utils.train import native_bf16

    precision = "bfloat16 autocast" if native_bf16(torch.device("cpu")) and not args.avx2 else "float32"
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
          f"recipes' precision: {precision}{' (kernels capped at AVX2)' if args.avx2 else ''}", flush=True)
    if args.quick:
        seeds, best_seeds, classic_epochs = args.seeds[:1], args.best_seeds[:1], min(args.classic_epochs, 1)
        subset = ["--train-subset", "2000", "--epochs", "1"]
        classic_subset = 2000
    else:
        seeds, best_seeds, classic_epochs, subset, classic_subset = (args.seeds, args.best_seeds,
                                                                     args.classic_epochs, [], None)
    if args.ablate:
        ablations = run_ablations(args.data_dir, seeds, subset + (["--set", "bf16=false"] if args.avx2 else []))
        print(format_ablations(ablations))
        if args.json:
            Path(args.json).write_text(json.dumps({"ablations": [{"variant": label, **asdict(r)} for label, r in ablations],
                                                   "quick": args.quick}, indent=1))
        return 0
    rows: list[BenchRow] = []

    def record(row: BenchRow) -> None:
        rows.append(row)
        print(f"  {row.pipeline} seed {row.seed}: {row.seconds:.1f} s, test {100 * row.test_accuracy:.2f} %, "
              f"{row.epochs} epoch(s), load {row.load:.1f}", file=sys.stderr, flush=True)

    print(f"benchmark on {os.cpu_count()} CPU(s), load {_loadavg():.1f}"
          f"{' (quick smoke run)' if args.quick else ''}", file=sys.stderr, flush=True)
    rounds = max(len(seeds), len(best_seeds), 1 if classic_epochs else 0)
    for i in range(rounds):
        if i == 0 and classic_epochs:
            record(run_classic(args.data_dir, epochs=classic_epochs, train_subset=classic_subset))
        if i < len(seeds):
            record(run_recipe("fast", args.data_dir, seed=seeds[i], extra=subset))
        if i < len(best_seeds):
            # 8 steps cannot warm up to the recipe's peak lr 0.4, so the smoke run uses less
            quick = ["--lr", "0.05", "--batch-size", "64"] if args.quick else []
            record(run_recipe("best", args.data_dir, seed=best_seeds[i], extra=subset + quick))
    summary = summarize(rows)
    print(format_table(rows, summary))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": [asdict(r) for r in rows], "summary": summary,
                                               "quick": args.quick}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
