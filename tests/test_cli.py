"""The command line, run as a real subprocess: python -m mnist_utils ..."""

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from mnist_utils import load_raw


def run_cli(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "mnist_utils", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("cli")
    result = run_cli(
        "train",
        "--model",
        "mlp",
        "--epochs",
        2,
        "--train-subset",
        3000,
        "--val-size",
        1000,
        "--hidden",
        64,
        32,
        "--data-dir",
        data_dir,
        "--out-dir",
        out,
        "--figure",
        out / "results.png",
        "--set",
        "label_smoothing=0.05",
        "--set",
        "betas=[0.8, 0.99]",
        "--json",
        cwd=out,
    )
    assert result.returncode == 0, result.stderr
    return out, json.loads(result.stdout), result.stderr


def test_train_json_summary_and_files(trained):
    out, summary, stderr = trained
    assert 0.85 < summary["test_accuracy"] <= 1.0
    assert summary["train_seconds"] > 0 and summary["hparams"]["hidden"] == [64, 32]
    assert summary["config"]["label_smoothing"] == 0.05 and summary["config"]["betas"] == [
        0.8,
        0.99,
    ]  # --set
    assert len(summary["history"]["train_loss"]) == 2 and len(summary["history"]["val_acc"]) == 2
    assert "epoch 2 |" in stderr  # per-epoch lines go to stderr so stdout stays one JSON object
    for name in ("mnist_model_full.pth", "mnist_model_state.pth", "results.png"):
        assert (out / name).stat().st_size > 1000


def test_evaluate_prints_the_same_accuracy(trained, data_dir):
    out, summary, _ = trained
    result = run_cli("evaluate", out / "mnist_model_state.pth", "--data-dir", data_dir, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["test_accuracy"] == pytest.approx(
        summary["test_accuracy"], abs=1e-9
    )
    text = run_cli("evaluate", out, "--data-dir", data_dir).stdout
    assert f"{100 * summary['test_accuracy']:.2f} %" in text


def test_predict_names_digits_from_png_files(trained, data_dir, tmp_path):
    out, _, _ = trained
    images, labels = load_raw(data_dir, train=False)
    paths = []
    for i in range(5):  # dark-on-light, enlarged: the way a user would draw them
        path = tmp_path / f"digit{i}.png"
        Image.fromarray(255 - images[i].numpy()).resize((140, 140)).save(path)
        paths.append(path)
    result = run_cli("predict", out / "mnist_model_state.pth", *paths, "--json")
    assert result.returncode == 0, result.stderr
    predictions = json.loads(result.stdout)["predictions"]
    assert [p["digit"] for p in predictions] == labels[:5].tolist()
    assert all(0.5 < p["probability"] <= 1 for p in predictions)


def test_help_lists_the_hyperparameter_flags():
    result = run_cli("train", "--help")
    for flag in (
        "--model",
        "--epochs",
        "--batch-size",
        "--lr",
        "--optimizer",
        "--hidden",
        "--dropout",
        "--seed",
        "--data-dir",
        "--out-dir",
        "--device",
        "--json",
    ):
        assert flag in result.stdout


def test_top_level_help_lists_every_command():
    result = run_cli("--help")
    assert result.returncode == 0, (
        result.stderr
    )  # a "%" in a command's help text once made argparse crash here
    for command in ("train", "evaluate", "predict", "grid"):
        assert f"    {command} " in result.stdout


@pytest.mark.parametrize("command", ["train", "evaluate", "predict"])
def test_help_says_each_default_once_and_ends_with_examples(command):
    text = run_cli(command, "--help").stdout
    flat = " ".join(text.split())
    assert "(default: None)" not in flat
    for option in flat.split(" --")[1:]:
        assert option.count("(default:") <= 1, option
    assert text.rstrip().splitlines()[-1].strip().startswith(f"python -m mnist_utils {command} ")


@pytest.mark.parametrize(
    "args, words",
    [
        (["train", "--epochs", "ten"], ["epochs", "'ten'"]),
        (["train", "--optimizer", "adamw"], ["optimizer", "adamw", "'sgd'"]),
        (["train", "--lr", "0"], ["lr", "> 0"]),
        (
            ["train", "--device", "cuda"]
            if not __import__("torch").cuda.is_available()
            else ["train", "--model", "x"],
            ["cuda" if not __import__("torch").cuda.is_available() else "model"],
        ),
        (["evaluate", "no/such/model.pth"], ["does not exist", "no/such/model.pth"]),
        (["train", "--no-such-flag"], ["--no-such-flag"]),
        (["train", "--set", "bf16=maybe"], ["bf16", "True or False", "'maybe'"]),
        (
            ["train", "--set", "no_such_option=1"],
            ["unknown training option no_such_option", "label_smoothing"],
        ),
        (["train", "--set", "bf16"], ["bf16 must be True or False", "pass e.g. bf16=False"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, words, tmp_path):
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2  # argparse's status for a bad command line
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    for word in words:
        assert word in result.stderr
    assert list(tmp_path.iterdir()) == []  # refused before any work: nothing written


def test_empty_data_folder_is_one_clear_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    # torchvision's download goes to a refusing loopback port: a sure failure with or without internet
    result = run_cli(
        "train",
        "--epochs",
        "1",
        cwd=tmp_path,
        env={
            "MNIST_DATA_DIR": str(empty),
            "http_proxy": "http://127.0.0.1:9",
            "https_proxy": "http://127.0.0.1:9",
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "HTTP_PROXY": "http://127.0.0.1:9",
        },
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert str(empty) in result.stderr and "MNIST_DATA_DIR" in result.stderr
    assert "train-images-idx3-ubyte" in result.stderr
    assert (
        list(empty.iterdir()) == []
    )  # the failed download leaves no empty MNIST/raw folders behind
