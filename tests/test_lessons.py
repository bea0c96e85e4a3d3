"""What the lessons build in the open is the package's own code, and their prose states no measured figure.

- Notebook 02's training loop (the cell tagged ``training-loop``), run on a small subset, ends with exactly the
  weights ``fit`` gives with the same seed, data and settings.
- Notebook 02's MLP (the cell tagged ``mlp-class``) is ``mnist_utils.MLP``: same layers, same initial weights from
  the same seed, same outputs.
- Notebook 03's historical CNN (the cell tagged ``cnn-class``) is ``mnist_utils.CNN``: same layers, same initial
  weights from the same seed, same outputs.
- No markdown cell of any notebook in notebooks/ (other engineers' included) quotes a measured figure: numbers a
  run can contradict are printed from the run's variables instead. (That every notebook is there is checked
  once, in test_notebooks_clean.py.)
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
import torch

from mnist_utils import CNN, MLP, fit

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"


def tagged_cell(name: str, tag: str) -> str:
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    cells = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{name}: expected one cell tagged {tag!r}, found {len(cells)}"
    return cells[0].source


def notebook_imports(name: str) -> dict:
    """A namespace holding what the notebook's code cells import, and nothing else of it."""
    namespace: dict = {}
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            for node in ast.parse(cell.source).body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    exec(compile(ast.Module([node], []), name, "exec"), namespace)  # noqa: S102 (the notebook's own imports)
    return namespace


def run_cell(name: str, tag: str, namespace: dict) -> dict:
    exec(compile(tagged_cell(name, tag), f"{name} {tag}", "exec"), namespace)  # noqa: S102
    return namespace


def run_the_loop(data, **parameters) -> dict:
    """Notebook 02's MLP class and training loop, run on ``data`` with these parameters."""
    namespace = {**notebook_imports("02_mlp"), "data": data, **parameters}
    run_cell("02_mlp", "mlp-class", namespace)
    return run_cell("02_mlp", "training-loop", namespace)


LOOP = dict(SEED=3, HIDDEN=(64, 32), DROPOUT=0.2, LR=2e-3, BATCH_SIZE=100, LOOP_EPOCHS=2)


def test_the_loop_of_02_gives_exactly_fits_weights(small_data, capsys):
    loop = run_the_loop(small_data, **LOOP)
    assert capsys.readouterr().out.count("validation accuracy") == 2, (
        "one validation line per epoch"
    )
    fitted, history = fit(
        "mlp",
        small_data,
        epochs=2,
        batch_size=100,
        lr=2e-3,
        optimizer="adam",
        schedule="constant",
        seed=3,
        hparams=dict(hidden=(64, 32), dropout=0.2),
        device="cpu",
        progress=False,
    )
    ours, theirs = loop["model"].state_dict(), fitted.state_dict()
    assert list(ours) == list(theirs)
    for name in ours:
        assert torch.equal(ours[name], theirs[name]), (
            f"{name} differs between the notebook's loop and fit"
        )
    assert history.val_acc[-1] == pytest.approx(
        loop["val_acc"], abs=1e-6
    )  # the same validation pass
    assert history.val_loss[-1] == pytest.approx(loop["val_loss"], rel=1e-4)


def test_the_weight_comparison_can_fail(small_data):
    # the equality above means something: another seed, or one step fewer, gives other weights
    a = run_the_loop(small_data, **LOOP)["model"].state_dict()
    b = run_the_loop(small_data, **{**LOOP, "SEED": 4})["model"].state_dict()
    c = run_the_loop(small_data, **{**LOOP, "LOOP_EPOCHS": 1})["model"].state_dict()
    assert not torch.equal(a["net.1.weight"], b["net.1.weight"])
    assert not torch.equal(a["net.1.weight"], c["net.1.weight"])


def test_the_mlp_written_in_02_is_mnist_utils_mlp():
    namespace = run_cell("02_mlp", "mlp-class", notebook_imports("02_mlp"))
    torch.manual_seed(0)
    ours = namespace["OurMLP"](hidden=(64, 32), dropout=0.2)
    torch.manual_seed(0)
    package = MLP(hidden=(64, 32), dropout=0.2)
    assert [type(m) for m in ours.modules()][1:] == [type(m) for m in package.modules()][1:]
    assert list(ours.state_dict()) == list(package.state_dict())
    for (name, a), b in zip(ours.state_dict().items(), package.state_dict().values()):
        assert torch.equal(a, b), name
    ours.eval()
    package.eval()
    x = torch.randn(4, 1, 28, 28)
    assert torch.equal(ours(x), package(x))


def test_the_cnn_written_in_03_is_mnist_utils_cnn():
    namespace = notebook_imports("03_cnn")
    exec(compile(tagged_cell("03_cnn", "cnn-class"), "03_cnn cnn-class", "exec"), namespace)  # noqa: S102
    torch.manual_seed(0)
    ours = namespace["HistoricalCNN"]()
    torch.manual_seed(0)
    package = CNN()
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in package.state_dict().items()
    ]
    assert (
        sum(p.numel() for p in ours.parameters())
        == sum(p.numel() for p in package.parameters())
        == 1_625_866
    )
    for (name, a), b in zip(ours.state_dict().items(), package.state_dict().values()):
        assert torch.equal(a, b), name
    x = torch.randn(4, 1, 28, 28)
    assert torch.equal(ours(x), package(x))
    assert [type(m) for m in ours.modules()][1:] == [type(m) for m in package.modules()][1:]


# A measured figure: a number with decimals followed by %, points or a unit of time ("99.14 %", "0.3 pt",
# "3.5 s"), or any whole number of seconds or minutes ("184 s", "4 minutes"). Facts that are not measurements
# stay allowed: counts ("60,000 images"), sizes ("28 × 28"), settings ("1e-3", "0.2"), constants ("0.1307").
MEASURED = re.compile(
    r"(?<![\w.])\d+(?:[.,]\d+)*(?:\s?(?:%|pt\b|points?\b)|\s(?:s|sec|seconds?|min|minutes?)\b)"
    r"|(?<![\w.])\d+\.\d+\s?(?:times|×|x\b)"
)  # "9s" is plural nines, not seconds
# quoted from the project's history or stated as targets, not measured by the notebook's run
ALLOWED = {
    "98.94 %",
    "98 %",
    "99 %",
    "5 minutes",
    "15 minutes",
    "70 %",
}  # 70 %: predict's "unsure" threshold


def measured_figures(text: str) -> list[str]:
    return [m.group(0) for m in MEASURED.finditer(text) if m.group(0) not in ALLOWED]


def test_the_guard_finds_measured_figures():
    assert measured_figures(
        "reaches **99.14 %** test accuracy in 184 s, 0.4 pt above; 2.5 times faster"
    ) == ["99.14 %", "184 s", "0.4 pt", "2.5 times"]
    assert (
        measured_figures(
            "60,000 images of 28 × 28 pixels, lr 1e-3, dropout 0.2, mean 0.1307, 3 epochs"
        )
        == []
    )
    assert measured_figures("hooked 9s read as 3s") == []
    assert (
        measured_figures(
            "the historical 98.94 %; the course's targets: 98 % and 99 %, within 5 minutes"
        )
        == []
    )
    assert (
        measured_figures('`f"{100 * acc:.2f} %"`') == []
    )  # a format string prints a figure, it is not one


def notebooks():
    return sorted(NOTEBOOK_DIR.glob("*.ipynb"))


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_no_measured_figures_in_markdown(path):
    nb = nbformat.read(path, as_version=4)
    found = {
        i: measured_figures(c.source) for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
    }
    found = {i: figures for i, figures in found.items() if figures}
    assert not found, (
        f"{path.name}: markdown quotes figures a run can contradict, by cell: {found}; print them "
        "from the run's variables (display(Markdown(f'...'))) or describe them without the figure"
    )
