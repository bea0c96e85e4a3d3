"""Command line: ``python -m mnist_utils {train,evaluate,predict,grid} ...``; bad input: one line on stderr, exit 1."""
import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from . import data, images, persistence, plots, recipes, train
from .config import TrainingDiverged
from .course import epoch_printer
from .evaluate import UNSURE, evaluate, fit_temperature, predict  # `evaluate`: the function, not the module

INT, FLOAT = {"type": int}, {"type": float}
DATA_DIR = ("--data-dir", "folder holding MNIST/raw/ (default: $MNIST_DATA_DIR, else data/, downloaded if missing)", {})
JSON = ("--json", "print one JSON object on stdout (progress goes to stderr)", {"action": "store_true"})
DATA = [("--train-subset", "train on only this many images (default: all 55,000)", INT),
        ("--val-size", "validation images carved from the 60,000 (default: 5000)", {**INT, "default": 5000}),
        DATA_DIR, JSON]
COMMANDS = {  # name: (what it does, its arguments as (flag, help, argparse settings), an example for its --help)
    "train": ("train a model, test it once, save it and its curves; a flag left out keeps the recipe's value", [
        ("--model", "the recipe (default: mlp)", {"default": "mlp", "choices": list(recipes.RECIPES)}),
        ("--epochs", "passes over the training set", INT), ("--batch-size", "images per step", INT),
        ("--lr", "learning rate", FLOAT), ("--optimizer", "adam or sgd", {}), ("--device", "cpu, cuda or mps", {}),
        ("--hidden", "mlp hidden sizes, e.g. 256 128", {**INT, "nargs": 2}), ("--dropout", "mlp dropout", FLOAT),
        ("--seed", "random seed (default: 0)", {**INT, "default": 0}),
        ("--out-dir", "folder for the model files and the figure (default: runs/MODEL)", {}),
        ("--figure", "loss/accuracy figure path (default: OUT_DIR/results.png)", {}),
        ("--set", "any other TrainConfig field, value in JSON: --set label_smoothing=0.1",
         {"dest": "options", "action": "append", "default": [], "metavar": "KEY=VALUE"}), *DATA,
    ], "--model cnn --epochs 3 --json"),
    "grid": ("grid search as an Optuna study: resumable, parallel, optionally pruned", [
        ("--grid", "TrainConfig fields and values (default: lr=0.001,0.0001 batch_size=64,128 optimizer=adam,sgd)",
         {"nargs": "+", "metavar": "KEY=V1,V2", "default": []}),
        ("--model", "mlp or cnn (default: cnn)", {"default": "cnn"}),
        ("--study", "study name (default: grid)", {"default": "grid"}),
        ("--epochs", "per trial (default: 1)", {**INT, "default": 1}),
        ("--workers", "processes sharing this machine's cores (default: 1)", {**INT, "default": 1}),
        ("--storage", "database URL (default: sqlite:///runs/grid/grid_search.db)", {}),
        ("--prune", "stop a trial below the median validation accuracy after an epoch", {"action": "store_true"}),
        *DATA,
    ], "--grid lr=0.01,0.05 optimizer=sgd --epochs 3 --prune"),
    "evaluate": ("test accuracy of a saved model on the 10,000 test images",
                 [("checkpoint", "mnist_model_state.pth, or the folder holding it", {}), DATA_DIR, JSON], "runs/cnn"),
    "predict": (f"read digits from image files with a saved model; 'unsure' below probability {UNSURE:g} (calibrated)",
                [("images", "a saved model (default: runs/robust), then PNG or JPEG files, one digit each",
                  {"nargs": "+", "metavar": "[CHECKPOINT] IMAGE"}), JSON], "runs/cnn scans/*.png --json"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 1 instead of argparse's usage text and exit 2
        raise ValueError(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m mnist_utils", description="Train, evaluate and use MNIST digit classifiers.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, (text, arguments, example) in COMMANDS.items():
        command = sub.add_parser(name, help=text, description=text, epilog=f"example:\n  python -m mnist_utils {name} "
                                 f"{example}", formatter_class=argparse.RawDescriptionHelpFormatter)
        for flag, help_text, settings in arguments:
            command.add_argument(flag, help=help_text, **settings)
    return parser


def _value(text: str):
    """``text`` read as JSON (10, 1e-3, false, [0.9, 0.99]), else kept as text for validation to quote."""
    try:
        return json.loads(text)
    except ValueError:  # json.JSONDecodeError is a ValueError too
        return text


def parse_options(items: list[str]) -> dict:
    """``--set`` items: ``["bf16=false", "betas=[0.9,0.999]"]`` -> ``{"bf16": False, "betas": [0.9, 0.999]}``."""
    return {key.strip().replace("-", "_"): _value(text) for key, _, text in (item.partition("=") for item in items)}


def _train(args) -> tuple[dict, str]:
    start = time.perf_counter()
    recipe = recipes.RECIPES[args.model]
    flags = {k: v for k, v in vars(args).items() if k in vars(recipe.config) and v is not None}  # --epochs, --lr...
    config = recipe.config.replace(**{**flags, **parse_options(args.options)})
    hparams = {**recipe.hparams, **{k: getattr(args, k) for k in ("hidden", "dropout") if getattr(args, k) is not None}}
    device = train.select_device(args.device)
    mnist = data.load_mnist(args.data_dir, normalize=recipe.normalize, val_size=args.val_size,
                            train_subset=args.train_subset, seed=config.seed)
    fit_start = time.perf_counter()
    model, history = train.fit(recipe.model, mnist, config, hparams=hparams, device=device,
                               callback=epoch_printer(args.model, file=sys.stderr if args.json else sys.stdout))
    train_seconds = time.perf_counter() - fit_start  # all of fit: the model, the optimizer, epochs and validation
    test = evaluate(model, mnist.test)
    metrics = {"test_accuracy": test.accuracy, "test_loss": test.loss}
    if len(mnist.val_y):  # calibrated probabilities: predict's "unsure" then means what it says
        metrics["temperature"] = fit_temperature(model, mnist.val)
    out_dir = Path(args.out_dir or f"runs/{args.model}")
    figure = Path(args.figure or out_dir / "results.png")
    files = [*persistence.save_model(model, out_dir, normalize=recipe.normalize, metrics=metrics), figure]
    plots.plot_history(history, path=figure, title=f"{args.model}: test accuracy {100 * test.accuracy:.2f} %")
    summary = {"model": args.model, **metrics, "train_seconds": train_seconds,
               "total_seconds": time.perf_counter() - start, "device": str(device), "config": vars(config),
               "hparams": hparams, "history": dataclasses.asdict(history), "files": list(map(str, files))}
    return summary, f"test accuracy {100 * test.accuracy:.2f} % after {train_seconds:.1f} s on {device}, in {out_dir}"


def _evaluate(args) -> tuple[dict, str]:
    saved = persistence.load_checkpoint(args.checkpoint)
    test = evaluate(saved.model, data.load_mnist(args.data_dir, normalize=saved.normalize, val_size=0).test)
    summary = {"checkpoint": args.checkpoint, "model": saved.arch, "test_accuracy": test.accuracy,
               "test_loss": test.loss}
    return summary, f"{saved.arch}: test accuracy {100 * test.accuracy:.2f} % (loss {test.loss:.4f})"


def _predict(args) -> tuple[dict, str]:
    named = Path(args.images[0]).is_dir() or args.images[0].endswith(".pth")  # a model before the images
    checkpoint, paths = (args.images[0], args.images[1:]) if named else ("runs/robust", args.images)
    if not paths or not (named or Path(checkpoint).is_dir()):
        raise ValueError("predict needs a saved model (by default runs/robust, which `python -m mnist_utils train "
                         "--model robust` makes), then one or more PNG or JPEG files")
    saved = persistence.load_checkpoint(checkpoint)
    pixels = torch.stack([images.load_digit_image(p) for p in paths])  # all files checked before predicting
    _, probs = predict(saved.model, data.normalize_images(pixels, saved.normalize),
                       temperature=saved.metrics.get("temperature", 1.0))
    rows = [{"image": path, "digit": int(ds[0]), "probability": float(ps[0]), "unsure": float(ps[0]) < UNSURE,
             "top3": [{"digit": int(d), "probability": float(p)} for d, p in zip(ds, ps)]}
            for path, ps, ds in zip(paths, *probs.topk(3, dim=1))]
    text = "\n".join(f"{r['image']}: " + ", ".join(f"{t['digit']} ({100 * t['probability']:.1f} %)" for t in r["top3"])
                     + f"  (unsure: below {100 * UNSURE:.0f} %)" * r["unsure"] for r in rows)
    return {"checkpoint": checkpoint, "predictions": rows}, text


def _grid(args) -> tuple[dict, str]:
    from .grid_search import grid_search  # Optuna is imported for this command only
    grid = {key: [_value(v) for v in values.split(",")] for key, _, values in (g.partition("=") for g in args.grid)}
    table = grid_search(data.load_mnist(args.data_dir, val_size=args.val_size, train_subset=args.train_subset),
                        grid or None, model=args.model, epochs=args.epochs, storage=args.storage, study=args.study,
                        workers=args.workers, prune=args.prune)  # Optuna logs each trial on stderr
    return {"study": args.study, "trials": json.loads(table.to_json(orient="records"))}, table.to_string()


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        summary, text = {"train": _train, "grid": _grid, "evaluate": _evaluate, "predict": _predict}[args.command](args)
        print(json.dumps(summary, default=list) if args.json else text, flush=True)  # before __main__'s os._exit
        return 0
    except (ValueError, TypeError, OSError, TrainingDiverged) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: finished work is saved (a grid study resumes), no traceback
        print("interrupted", file=sys.stderr)
        return 130
