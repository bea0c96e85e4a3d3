"""The command line's four commands: ``train``, ``evaluate``, ``predict`` and ``grid``.

Each takes the parsed arguments (cli.py) and returns a summary for ``--json`` and the text to print.
"""

import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from . import data, images, persistence, plots, recipes, train
from .evaluate import UNSURE, evaluate, fit_temperature, predict
from .progress import epoch_printer

DEFAULT_PREDICT_MODEL = "runs/robust"


def json_or_text(text: str):
    """``text`` as JSON (10, 1e-3, false, [0.9, 0.99]), else as text for the checks to quote."""
    try:
        return json.loads(text)
    except ValueError:  # json.JSONDecodeError is a ValueError too
        return text


def parse_options(items: list[str]) -> dict:
    """``--set`` items: ``["bf16=false", "betas=[0.9,0.999]"]`` -> ``{"bf16": False, ...}``."""
    options = {}
    for item in items:
        key, _, text = item.partition("=")
        options[key.strip().replace("-", "_")] = json_or_text(text)
    return options


def parse_grid(items: list[str]) -> dict | None:
    """``--grid`` items: ``["lr=0.01,0.05"]`` -> ``{"lr": [0.01, 0.05]}``; None without items."""
    grid = {}
    for item in items:
        key, _, values = item.partition("=")
        grid[key] = [json_or_text(value) for value in values.split(",")]
    return grid or None


def train_command(args) -> tuple[dict, str]:
    start = time.perf_counter()
    recipe = recipes.RECIPES[args.model]
    flags = {}  # --epochs, --lr, ... given on the command line: they replace the recipe's values
    for key, value in vars(args).items():
        if key in vars(recipe.config) and value is not None:
            flags[key] = value
    config = recipe.config.replace(**flags, **parse_options(args.options))
    hparams = dict(recipe.hparams)
    for key in ("hidden", "dropout"):
        if getattr(args, key) is not None:
            hparams[key] = getattr(args, key)
    device = train.select_device(args.device)
    mnist = data.load_mnist(
        args.data_dir,
        normalize=recipe.normalize,
        val_size=args.val_size,
        train_subset=args.train_subset,
        seed=config.seed,
    )
    progress_file = sys.stderr if args.json else sys.stdout
    fit_start = time.perf_counter()
    model, history = train.fit(
        recipe.model,
        mnist,
        config,
        hparams=hparams,
        device=device,
        callback=epoch_printer(args.model, file=progress_file),
    )
    train_seconds = (
        time.perf_counter() - fit_start
    )  # all of fit: model, optimizer, epochs, validation
    test = evaluate(model, mnist.test)
    metrics = {"test_accuracy": test.accuracy, "test_loss": test.loss}
    if len(mnist.val_y):
        # calibrated probabilities: predict's "unsure" then means what it says
        metrics["temperature"] = fit_temperature(model, mnist.val)
    out_dir = Path(args.out_dir or f"runs/{args.model}")
    figure = Path(args.figure or out_dir / "results.png")
    model_files = persistence.save_model(
        model, out_dir, normalize=recipe.normalize, metrics=metrics
    )
    title = f"{args.model}: test accuracy {100 * test.accuracy:.2f} %"
    plots.plot_history(history, path=figure, title=title)
    summary = {
        "model": args.model,
        **metrics,
        "train_seconds": train_seconds,
        "total_seconds": time.perf_counter() - start,
        "device": str(device),
        "config": vars(config),
        "hparams": hparams,
        "history": dataclasses.asdict(history),
        "files": [str(path) for path in [*model_files, figure]],
    }
    accuracy = f"{100 * test.accuracy:.2f} %"
    text = f"test accuracy {accuracy} after {train_seconds:.1f} s on {device}, in {out_dir}"
    return summary, text


def evaluate_command(args) -> tuple[dict, str]:
    saved = persistence.load_checkpoint(args.checkpoint)
    mnist = data.load_mnist(args.data_dir, normalize=saved.normalize, val_size=0)
    test = evaluate(saved.model, mnist.test)
    summary = {
        "checkpoint": args.checkpoint,
        "model": saved.arch,
        "test_accuracy": test.accuracy,
        "test_loss": test.loss,
    }
    return (
        summary,
        f"{saved.arch}: test accuracy {100 * test.accuracy:.2f} % (loss {test.loss:.4f})",
    )


def split_model_and_images(arguments: list[str]) -> tuple[str, list[str]]:
    """predict's arguments: an optional saved model (folder or .pth file) first, then the images."""
    first = arguments[0]
    model_named = Path(first).is_dir() or first.endswith(".pth")
    if model_named:
        checkpoint = first
        paths = arguments[1:]
    else:
        checkpoint = DEFAULT_PREDICT_MODEL
        paths = arguments
    if not paths or not (model_named or Path(checkpoint).is_dir()):
        raise ValueError(
            f"predict needs a saved model (by default {DEFAULT_PREDICT_MODEL}, which `python -m "
            "mnist_utils train --model robust` makes), then one or more PNG or JPEG files"
        )
    return checkpoint, paths


def prediction_row(path: str, probs: torch.Tensor) -> dict:
    """One image's answer: the digit, its probability, whether that is unsure, and the top 3."""
    top_probs, top_digits = probs.topk(3)
    top3 = []
    for digit, probability in zip(top_digits.tolist(), top_probs.tolist()):
        top3.append({"digit": digit, "probability": probability})
    return {
        "image": path,
        "digit": top3[0]["digit"],
        "probability": top3[0]["probability"],
        "unsure": top3[0]["probability"] < UNSURE,
        "top3": top3,
    }


def prediction_line(row: dict) -> str:
    """'scan.png: 7 (98.1 %), 1 (1.2 %), 9 (0.3 %)', and a note when the model is unsure."""
    guesses = []
    for guess in row["top3"]:
        guesses.append(f"{guess['digit']} ({100 * guess['probability']:.1f} %)")
    line = f"{row['image']}: " + ", ".join(guesses)
    if row["unsure"]:
        line += f"  (unsure: below {100 * UNSURE:.0f} %)"
    return line


def predict_command(args) -> tuple[dict, str]:
    checkpoint, paths = split_model_and_images(args.images)
    saved = persistence.load_checkpoint(checkpoint)
    # every file is read and checked before any prediction
    pixels = torch.stack([images.load_digit_image(path) for path in paths])
    temperature = saved.metrics.get("temperature", 1.0)
    _, probs = predict(
        saved.model, data.normalize_images(pixels, saved.normalize), temperature=temperature
    )
    rows = []
    for path, image_probs in zip(paths, probs):
        rows.append(prediction_row(path, image_probs))
    text = "\n".join(prediction_line(row) for row in rows)
    return {"checkpoint": checkpoint, "predictions": rows}, text


def grid_command(args) -> tuple[dict, str]:
    from .grid_search import grid_search  # Optuna is imported for this command only

    mnist = data.load_mnist(args.data_dir, val_size=args.val_size, train_subset=args.train_subset)
    # Optuna logs each trial on stderr
    table = grid_search(
        mnist,
        parse_grid(args.grid),
        model=args.model,
        epochs=args.epochs,
        storage=args.storage,
        study=args.study,
        workers=args.workers,
        prune=args.prune,
    )
    trials = json.loads(table.to_json(orient="records"))
    return {"study": args.study, "trials": trials}, table.to_string()
