"""Command line: ``python -m mnist_utils {train,evaluate,predict} ...``; bad input is one line on stderr, exit 1."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from . import data, images, models, persistence, plots, recipes, train, validation
from .config import TrainingDiverged
from .evaluate import UNSURE, evaluate, fit_temperature, predict  # `evaluate`: the function, not the module


def _value(text: str, casts=(int, float)):
    """``text`` read by the first of ``casts`` that takes it, else kept as text so validation can quote it."""
    for cast in casts:
        try:
            return cast(text)
        except ValueError:  # json.JSONDecodeError is a ValueError too
            pass
    return text


CHECKPOINT = ("checkpoint", "mnist_model_state.pth, or the folder holding it", {})
DATA_DIR = ("--data-dir", ("folder holding MNIST/raw/ (default: $MNIST_DATA_DIR, else data/ at the project root, "
                           "downloaded there if missing)"), {})
JSON = ("--json", "print one JSON object", {"action": "store_true"})
COMMANDS = {  # name: (what it does, its arguments as (flag, help, argparse settings), the examples ending its --help)
    "train": ("train a model, test it once, save it and its curves", [
        ("--model", "recipe: mlp, cnn, fast, best or robust (default: mlp)", {"default": "mlp"}),
        ("--epochs", "passes over the training set (default: the recipe's)", {"type": _value}),
        ("--batch-size", "images per step (default: the recipe's)", {"type": _value}),
        ("--lr", "learning rate (default: the recipe's)", {"type": _value}),
        ("--optimizer", "adam or sgd (default: the recipe's)", {}),
        ("--hidden", "MLP hidden sizes, e.g. --hidden 256 128", {"type": _value, "nargs": "+"}),
        ("--dropout", "MLP dropout probability in [0, 1)", {"type": _value}),
        ("--seed", "random seed; a CPU run repeats exactly (default: 0)", {"type": _value, "default": 0}),
        ("--train-subset", "train on only this many images (default: all 55,000)", {"type": _value}),
        ("--val-size", "validation images carved from the 60,000 (default: 5000)", {"type": _value, "default": 5000}),
        DATA_DIR,
        ("--out-dir", "folder for the model files and the figure (default: runs/MODEL)", {}),
        ("--figure", "loss/accuracy figure path (default: OUT_DIR/results.png)", {}),
        ("--device", "cpu, cuda or mps (default: the best available)", {}),
        ("--json", "print one JSON object on stdout (epochs go to stderr)", {"action": "store_true"}),
        ("--set", "any other TrainConfig field, value in JSON: --set label_smoothing=0.1",
         {"dest": "options", "action": "append", "default": [], "metavar": "KEY=VALUE"}),
    ], ["--model mlp --epochs 10", "--model cnn --epochs 3 --json", "--model fast --out-dir runs/fast-seed1 --seed 1",
        "--model cnn --set schedule=onecycle --set label_smoothing=0.1"]),
    "grid": ("grid search as an Optuna study: resumable, parallel, optionally pruned", [
        ("--grid", "TrainConfig fields and values (default: lr=0.001,0.0001 batch_size=64,128 optimizer=adam,sgd)",
         {"nargs": "+", "metavar": "KEY=V1,V2", "default": []}),
        ("--model", "mlp or cnn (default: cnn)", {"default": "cnn"}),
        ("--epochs", "epochs per trial (default: 1)", {"type": _value, "default": 1}),
        ("--train-subset", "train on only this many images (default: all 55,000)", {"type": _value}),
        ("--val-size", "validation images that rank the trials (default: 5000)", {"type": _value, "default": 5000}),
        DATA_DIR, ("--storage", "database URL (default: sqlite:///runs/grid/grid_search.db)", {}),
        ("--study", "study name (default: grid)", {"default": "grid"}),
        ("--workers", "processes sharing this machine's cores (default: 1)", {"type": _value, "default": 1}),
        ("--prune", "stop a trial below the median validation accuracy after an epoch", {"action": "store_true"}), JSON,
    ], ["--epochs 1 --workers 2", "--grid lr=0.01,0.05 optimizer=sgd --study sgd --epochs 3 --prune"]),
    "evaluate": ("test accuracy of a saved model on the 10,000 test images", [CHECKPOINT, DATA_DIR, JSON],
                 ["runs/cnn/mnist_model_state.pth", "runs/cnn --json"]),
    "predict": (f"read digits from image files with a saved model; 'unsure' below {UNSURE:.0%} (calibrated)",
                [("images", ("a saved model (folder or state file; default: runs/robust), then PNG or JPEG files, "
                             "one digit each"), {"nargs": "+", "metavar": "[CHECKPOINT] IMAGE"}), JSON],
                ["digit.png", "runs/cnn/mnist_model_state.pth digit.png", "runs/cnn scans/*.png --json"]),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 1 instead of argparse's usage text and exit 2
        raise ValueError(f"{message} (see --help)")


def parse_options(items: list[str]) -> dict:
    """``["bf16=false", "betas=[0.9,0.999]"]`` -> ``{"bf16": False, "betas": [0.9, 0.999]}`` (text stays text)."""
    options = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects KEY=VALUE such as --set bf16=false, got {item!r}")
        options[key.strip().replace("-", "_")] = _value(text, (json.loads,))
    return options


def build_parser() -> argparse.ArgumentParser:
    def examples(*commands: str) -> str:
        return "examples:\n" + "\n".join(f"  python -m mnist_utils {command}" for command in commands)

    raw = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog="python -m mnist_utils", description="Train, evaluate and use MNIST digit classifiers.",
                     formatter_class=raw, epilog=examples("train --model cnn --epochs 3", "evaluate runs/cnn",
                                                           "predict runs/cnn digit.png")
                     + "\n\nRun 'python -m mnist_utils COMMAND --help' for a command's options.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, (text, arguments, tails) in COMMANDS.items():
        command = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".", formatter_class=raw,
                                 epilog=examples(*(f"{name} {tail}" for tail in tails)))
        for flag, help_text, settings in arguments:
            command.add_argument(flag, help=help_text, **settings)
    return parser


def _train(args) -> tuple[dict, str]:
    recipe = recipes.RECIPES[validation.check_choice("model", args.model, recipes.RECIPES)]
    flags = {k: v for k, v in vars(args).items() if k in vars(recipe.config) and v is not None}  # --epochs, --lr...
    config = recipe.config.replace(**{**flags, **parse_options(args.options)})
    hparams = dict(recipe.hparams)
    for key, value in (("hidden", args.hidden), ("dropout", args.dropout)):
        if value is not None and recipe.model != "mlp":
            raise ValueError(f"--{key} applies to the mlp model only, not {args.model!r}; drop --{key}")
        if value is not None:  # one word stays text: "256 128" is read, "big" is quoted as typed in the error
            hparams[key] = value[0] if key == "hidden" and len(value) == 1 and isinstance(value[0], str) else value
    device = train.select_device(args.device)
    models.build_model(recipe.model, **hparams)  # checks the hyperparameters before any data is read

    def report(h):
        val = f"  val loss {h.val_loss[-1]:.4f}  val acc {100 * h.val_acc[-1]:.2f} %" if h.val_acc else ""
        print(f"epoch {h.epochs}/{config.epochs}  train loss {h.train_loss[-1]:.4f}{val}  {h.seconds[-1]:.1f} s",
              file=sys.stderr if args.json else sys.stdout, flush=True)

    start = time.perf_counter()
    mnist = data.load_mnist(args.data_dir, normalize=recipe.normalize, val_size=args.val_size,
                            train_subset=args.train_subset, seed=config.seed)
    train_start = time.perf_counter()
    model, history = train.fit(recipe.model, mnist, config, hparams=hparams, device=device, callback=report)
    train_seconds = time.perf_counter() - train_start
    test = evaluate(model, mnist.test)
    metrics = {"test_accuracy": test.accuracy, "test_loss": test.loss}
    if len(mnist.val_y):  # calibrated probabilities: predict's "unsure" then means what it says
        metrics["temperature"] = fit_temperature(model, mnist.val)
    out_dir = Path(args.out_dir or Path("runs") / args.model)
    figure = Path(args.figure or out_dir / "results.png")
    files = [*persistence.save_model(model, out_dir, normalize=recipe.normalize, metrics=metrics), figure]
    plots.plot_history(history, path=figure, title=f"{args.model}: test accuracy {100 * test.accuracy:.2f} %")
    summary = {"model": args.model, **metrics, "train_seconds": train_seconds,
               "total_seconds": time.perf_counter() - start, "device": str(device), "config": vars(config),
               "hparams": hparams, "history": history.to_dict(), "files": list(map(str, files))}
    return summary, (f"test accuracy {100 * test.accuracy:.2f} % (loss {test.loss:.4f}) after {history.epochs} "
                     f"epochs, {train_seconds:.1f} s training on {device}\nsaved {files[0]}, {files[1]} and {figure}")


def _evaluate(args) -> tuple[dict, str]:
    saved = persistence.load_checkpoint(args.checkpoint)
    test = evaluate(saved.model, data.load_mnist(args.data_dir, normalize=saved.normalize, val_size=0).test)
    return ({"checkpoint": args.checkpoint, "model": saved.arch, "test_accuracy": test.accuracy,
             "test_loss": test.loss, "count": test.count},
            f"{saved.arch}: test accuracy {100 * test.accuracy:.2f} % (loss {test.loss:.4f}, {test.count} images)")


def _predict(args) -> tuple[dict, str]:
    first = Path(args.images[0])
    model_given = first.is_dir() or first.suffix == ".pth"
    args.checkpoint, paths = (str(first), args.images[1:]) if model_given else ("runs/robust", args.images)
    if not (model_given or Path(args.checkpoint).is_dir()):
        raise ValueError("no model given and runs/robust holds none: train it with `python -m mnist_utils train "
                         "--model robust`, or name a saved model before the images")
    if not paths:
        raise ValueError(f"no image given after the model {args.checkpoint!r}; pass one or more PNG or JPEG files")
    saved = persistence.load_checkpoint(args.checkpoint)
    pixels = torch.stack([images.load_digit_image(p) for p in paths])  # all files checked before predicting
    _, probs = predict(saved.model, data.normalize_images(pixels, saved.normalize),
                       temperature=saved.metrics.get("temperature", 1.0))
    rows = [{"image": p, "digit": int(ds[0]), "probability": float(ps[0]), "unsure": float(ps[0]) < UNSURE,
             "top3": [{"digit": int(d), "probability": float(q)} for d, q in zip(ds, ps)]}
            for p, (ps, ds) in zip(paths, zip(*probs.topk(3, dim=1)))]
    lines = [f"{r['image']}: " + ", ".join(f"{t['digit']} ({100 * t['probability']:.1f} %)" for t in r["top3"])
             + (f"  (unsure: below {100 * UNSURE:.0f} %)" if r["unsure"] else "") for r in rows]
    return {"checkpoint": args.checkpoint, "predictions": rows}, "\n".join(lines)


def _grid(args) -> tuple[dict, str]:
    from .grid_search import grid_search  # Optuna is imported for this command only

    grid = {key: [_value(v) for v in values.split(",")] for key, _, values in (g.partition("=") for g in args.grid)}
    table = grid_search(data.load_mnist(args.data_dir, val_size=args.val_size, train_subset=args.train_subset),
                        grid or None, model=args.model, epochs=args.epochs, storage=args.storage, study=args.study,
                        workers=args.workers, prune=args.prune, verbose=not args.json)
    best = ", ".join(f"{key}={value}" for key, value in table.iloc[0][:list(table).index("state")].items())
    text = f"{table.drop(columns='val_accs').to_string()}\nbest: {best}, val accuracy {100 * table['val_acc'][0]:.2f} %"
    return {"study": args.study, "trials": json.loads(table.to_json(orient="records"))}, text


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        summary, text = {"train": _train, "grid": _grid, "evaluate": _evaluate, "predict": _predict}[args.command](args)
        print(json.dumps(summary, default=list) if args.json else text)
        return 0
    except (ValueError, TypeError, OSError, TrainingDiverged) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

