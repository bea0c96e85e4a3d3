"""Command line: ``python -m mnist_utils {train,evaluate,predict} ...``.

Bad input ends in one line on stderr and exit code 1, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DATA_HELP = "folder holding MNIST/raw/ (default: $MNIST_DATA_DIR, else data/ at the project root, downloaded there if missing)"
EXAMPLES = {
    "train": """examples:
  python -m mnist_utils train --model mlp --epochs 10
  python -m mnist_utils train --model cnn --epochs 3 --json
  python -m mnist_utils train --model fast --out-dir runs/fast-seed1 --seed 1
  python -m mnist_utils train --model cnn --set schedule=onecycle --set label_smoothing=0.1""",
    "evaluate": """examples:
  python -m mnist_utils evaluate runs/cnn/mnist_model_state.pth
  python -m mnist_utils evaluate runs/cnn --json""",
    "predict": """examples:
  python -m mnist_utils predict runs/cnn/mnist_model_state.pth digit.png
  python -m mnist_utils predict runs/cnn scans/*.png --json""",
}
EPILOG = """examples:
  python -m mnist_utils train --model cnn --epochs 3
  python -m mnist_utils evaluate runs/cnn
  python -m mnist_utils predict runs/cnn digit.png

Run 'python -m mnist_utils COMMAND --help' for a command's options."""


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 1, like every other bad input
        raise UsageError(f"{message} (see --help)")


def _number(text: str):
    """Keep the raw text when it is not a number, so validation names the parameter in its message."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_options(items: list[str]) -> dict:
    """``["bf16=false", "betas=[0.9,0.999]"]`` -> ``{"bf16": False, "betas": [0.9, 0.999]}`` (text stays text)."""
    options = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects KEY=VALUE such as --set bf16=false, got {item!r}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        options[key.strip().replace("-", "_")] = value
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m mnist_utils", description="Train, evaluate and use MNIST digit classifiers.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".",
                              epilog=EXAMPLES[name], formatter_class=argparse.RawDescriptionHelpFormatter)

    train = command("train", "train a model, test it once, save it and its curves")
    train.add_argument("--model", default="mlp", help="recipe: mlp, cnn, fast or best (default: mlp)")
    train.add_argument("--epochs", type=_number, help="passes over the training set (default: the recipe's)")
    train.add_argument("--batch-size", type=_number, help="images per step (default: the recipe's)")
    train.add_argument("--lr", type=_number, help="learning rate (default: the recipe's)")
    train.add_argument("--optimizer", help="adam or sgd (default: the recipe's)")
    train.add_argument("--hidden", nargs="+", type=_number, help="MLP hidden sizes, e.g. --hidden 256 128")
    train.add_argument("--dropout", type=_number, help="MLP dropout probability in [0, 1)")
    train.add_argument("--seed", type=_number, default=0, help="random seed; a CPU run repeats exactly (default: 0)")
    train.add_argument("--train-subset", type=_number, help="train on only this many images (default: all 55,000)")
    train.add_argument("--val-size", type=_number, default=5000,
                       help="validation images carved from the 60,000 (default: 5000)")
    train.add_argument("--data-dir", help=DATA_HELP)
    train.add_argument("--out-dir", help="folder for the model files and the figure (default: runs/MODEL)")
    train.add_argument("--figure", help="loss/accuracy figure path (default: OUT_DIR/results.png)")
    train.add_argument("--device", help="cpu, cuda or mps (default: the best available)")
    train.add_argument("--json", action="store_true", help="print one JSON object on stdout (epochs go to stderr)")
    train.add_argument("--set", dest="options", action="append", default=[], metavar="KEY=VALUE",
                       help="any other TrainConfig field, value in JSON: --set label_smoothing=0.1")

    evaluate = command("evaluate", "test accuracy of a saved model on the 10,000 test images")
    evaluate.add_argument("checkpoint", help="mnist_model_state.pth, or the folder holding it")
    evaluate.add_argument("--data-dir", help=DATA_HELP)
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")

    predict = command("predict", "read digits from image files with a saved model")
    predict.add_argument("checkpoint", help="mnist_model_state.pth, or the folder holding it")
    predict.add_argument("images", nargs="+", help="PNG or JPEG files, one digit each")
    predict.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _train(args) -> int:
    from .data import load_mnist
    from .evaluate import evaluate
    from .models import build_model
    from .persistence import save_model
    from .plots import plot_history
    from .recipes import RECIPES
    from .train import fit, select_device
    from .validation import check_choice

    recipe = RECIPES[check_choice("model", args.model, RECIPES)]
    overrides = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                 "optimizer": args.optimizer, "seed": args.seed}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    config = recipe.config.replace(**{**overrides, **parse_options(args.options)})
    hparams = dict(recipe.hparams)
    for key in ("hidden", "dropout"):
        if getattr(args, key) is not None:
            if key not in hparams and recipe.model != "mlp":
                raise ValueError(f"--{key} applies to the mlp model only, not {args.model!r}; drop --{key}")
            value = getattr(args, key)
            hparams[key] = value[0] if key == "hidden" and len(value) == 1 and isinstance(value[0], str) else value
    device = select_device(args.device)
    build_model(recipe.model, **hparams)  # checks the hyperparameters before any data is read
    log = sys.stderr if args.json else sys.stdout

    start = time.perf_counter()
    data = load_mnist(args.data_dir, normalize=recipe.normalize, val_size=args.val_size,
                      train_subset=args.train_subset, seed=config.seed)

    def report(history):
        e = history.epochs
        val = (f"  val loss {history.val_loss[-1]:.4f}  val acc {100 * history.val_acc[-1]:.2f} %"
               if history.val_acc else "")
        print(f"epoch {e}/{config.epochs}  train loss {history.train_loss[-1]:.4f}{val}  "
              f"{history.seconds[-1]:.1f} s", file=log, flush=True)

    train_start = time.perf_counter()
    model, history = fit(recipe.model, data, config, hparams=hparams, device=device, callback=report)
    train_seconds = time.perf_counter() - train_start
    test = evaluate(model, data.test)
    out_dir = Path(args.out_dir or Path("runs") / args.model)
    figure = Path(args.figure or out_dir / "results.png")
    full_path, state_path = save_model(model, out_dir, normalize=recipe.normalize,
                                       metrics={"test_accuracy": test.accuracy, "test_loss": test.loss})
    plot_history(history, path=figure, title=f"{args.model}: test accuracy {100 * test.accuracy:.2f} %")
    summary = {
        "model": args.model, "test_accuracy": test.accuracy, "test_loss": test.loss,
        "train_seconds": train_seconds, "total_seconds": time.perf_counter() - start,
        "device": str(device), "config": vars(config), "hparams": hparams,
        "history": history.to_dict(), "files": [str(full_path), str(state_path), str(figure)],
    }
    if args.json:
        print(json.dumps(summary, default=list))
    else:
        print(f"test accuracy {100 * test.accuracy:.2f} % (loss {test.loss:.4f}) after {history.epochs} epochs, "
              f"{train_seconds:.1f} s training on {device}")
        print(f"saved {full_path}, {state_path} and {figure}")
    return 0


def _evaluate(args) -> int:
    from .data import load_mnist
    from .evaluate import evaluate
    from .persistence import load_checkpoint

    checkpoint = load_checkpoint(args.checkpoint)
    data = load_mnist(args.data_dir, normalize=checkpoint.normalize, val_size=0)
    result = evaluate(checkpoint.model, data.test)
    if args.json:
        print(json.dumps({"checkpoint": args.checkpoint, "model": checkpoint.arch, "test_accuracy": result.accuracy,
                          "test_loss": result.loss, "count": result.count}))
    else:
        print(f"{checkpoint.arch}: test accuracy {100 * result.accuracy:.2f} % "
              f"(loss {result.loss:.4f}, {result.count} images)")
    return 0


def _predict(args) -> int:
    import torch

    from .data import normalize_images
    from .evaluate import predict
    from .images import load_digit_image
    from .persistence import load_checkpoint

    checkpoint = load_checkpoint(args.checkpoint)
    images = torch.stack([load_digit_image(p) for p in args.images])  # all files checked before predicting
    digits, probs = predict(checkpoint.model, normalize_images(images, checkpoint.normalize))
    rows = [{"image": p, "digit": int(d), "probability": float(probs[i, d])}
            for i, (p, d) in enumerate(zip(args.images, digits))]
    if args.json:
        print(json.dumps({"checkpoint": args.checkpoint, "predictions": rows}))
    else:
        for row in rows:
            print(f"{row['image']}: {row['digit']} ({100 * row['probability']:.1f} %)")
    return 0


def main(argv=None) -> int:
    from .persistence import UntrustedCheckpointError  # noqa: F401  (a ValueError, listed for readers)
    from .config import TrainingDiverged

    try:
        args = build_parser().parse_args(argv)
        return {"train": _train, "evaluate": _evaluate, "predict": _predict}[args.command](args)
    except (UsageError, ValueError, TypeError, OSError, TrainingDiverged) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
