"""Command line: ``python -m mnist_utils {train,evaluate,predict,grid} ...``.

Bad input gets one line on stderr and exit status 2, before any work starts; a run whose training
diverged exits 1; Ctrl-C exits 130, with finished work saved.
"""

import argparse
import json
import sys

from . import recipes
from .commands import (
    DEFAULT_PREDICT_MODEL,
    evaluate_command,
    grid_command,
    predict_command,
    train_command,
)
from .config import TrainingDiverged
from .evaluate import UNSURE

BAD_INPUT = 2  # the exit status argparse uses for a bad command line

DATA_DIR_HELP = (
    "folder holding MNIST/raw/ (default: $MNIST_DATA_DIR, else data/, downloaded if missing)"
)
JSON_HELP = "print one JSON object on stdout (progress goes to stderr)"


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        # one line, like every other bad input, instead of argparse's usage text
        raise ValueError(f"{message} (see --help)")


def add_command(commands, name: str, text: str, example: str) -> argparse.ArgumentParser:
    """A subcommand whose --help shows ``text`` and an example."""
    return commands.add_parser(
        name,
        help=text,
        description=text,
        epilog=f"example:\n  python -m mnist_utils {name} {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_data_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--train-subset", type=int, help="train on this many images (default: 55,000)"
    )
    command.add_argument(
        "--val-size", type=int, default=5000, help="validation images (default: 5000)"
    )
    command.add_argument("--data-dir", help=DATA_DIR_HELP)
    command.add_argument("--json", action="store_true", help=JSON_HELP)


def add_train_command(commands) -> None:
    text = "train a model, test it once, save it and its curves; "
    text += "a flag left out keeps the recipe's value"
    command = add_command(commands, "train", text, "--model cnn --epochs 3 --json")
    command.add_argument("--model", default="mlp", choices=list(recipes.RECIPES), help="the recipe")
    command.add_argument("--epochs", type=int, help="passes over the training set")
    command.add_argument("--batch-size", type=int, help="images per step")
    command.add_argument("--lr", type=float, help="learning rate")
    command.add_argument("--optimizer", help="adam or sgd")
    command.add_argument("--device", help="cpu, cuda or mps (default: the best there is)")
    command.add_argument("--hidden", type=int, nargs=2, help="mlp hidden sizes, e.g. 256 128")
    command.add_argument("--dropout", type=float, help="mlp dropout")
    command.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    command.add_argument(
        "--out-dir", help="folder for the model files and figure (default: runs/MODEL)"
    )
    command.add_argument("--figure", help="loss/accuracy figure (default: OUT_DIR/results.png)")
    set_help = "any other TrainConfig field, value in JSON: --set label_smoothing=0.1"
    command.add_argument(
        "--set", dest="options", action="append", default=[], metavar="KEY=VALUE", help=set_help
    )
    add_data_arguments(command)


def add_grid_command(commands) -> None:
    text = "grid search as an Optuna study: resumable, parallel, optionally pruned"
    example = "--grid lr=0.01,0.05 optimizer=sgd --epochs 3 --prune"
    command = add_command(commands, "grid", text, example)
    grid_help = "TrainConfig fields and their values (default: the historical grid, "
    grid_help += "lr=0.001,0.0001 batch_size=64,128 optimizer=adam,sgd)"
    command.add_argument("--grid", nargs="+", metavar="KEY=V1,V2", default=[], help=grid_help)
    command.add_argument("--model", default="cnn", help="mlp or cnn (default: cnn)")
    command.add_argument("--study", default="grid", help="study name (default: grid)")
    command.add_argument("--epochs", type=int, default=1, help="per trial (default: 1)")
    command.add_argument(
        "--workers", type=int, default=1, help="processes on this machine (default: 1)"
    )
    command.add_argument(
        "--storage", help="database URL (default: sqlite:///runs/grid/grid_search.db)"
    )
    prune_help = "stop a trial below the median validation accuracy after an epoch"
    command.add_argument("--prune", action="store_true", help=prune_help)
    add_data_arguments(command)


def add_evaluate_command(commands) -> None:
    text = "test accuracy of a saved model on the 10,000 test images"
    command = add_command(commands, "evaluate", text, "runs/cnn")
    command.add_argument("checkpoint", help="mnist_model_state.pth, or the folder holding it")
    command.add_argument("--data-dir", help=DATA_DIR_HELP)
    command.add_argument("--json", action="store_true", help=JSON_HELP)


def add_predict_command(commands) -> None:
    text = f"read digits from image files with a saved model; 'unsure' below probability {UNSURE:g}"
    command = add_command(commands, "predict", text, "runs/cnn scans/*.png --json")
    images_help = f"a saved model (default: {DEFAULT_PREDICT_MODEL}), then PNG or JPEG files"
    command.add_argument("images", nargs="+", metavar="[CHECKPOINT] IMAGE", help=images_help)
    command.add_argument("--json", action="store_true", help=JSON_HELP)


def build_parser() -> argparse.ArgumentParser:
    description = "Train, evaluate and use MNIST digit classifiers."
    parser = OneLineParser(prog="python -m mnist_utils", description=description)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    add_train_command(commands)
    add_grid_command(commands)
    add_evaluate_command(commands)
    add_predict_command(commands)
    return parser


RUN_COMMAND = {
    "train": train_command,
    "grid": grid_command,
    "evaluate": evaluate_command,
    "predict": predict_command,
}


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        summary, text = RUN_COMMAND[args.command](args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT
    except TrainingDiverged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: finished work is saved (a grid study resumes), no traceback
        print("interrupted", file=sys.stderr)
        return 130
    output = json.dumps(summary, default=list) if args.json else text
    print(output, flush=True)  # flushed before __main__'s os._exit
    return 0
