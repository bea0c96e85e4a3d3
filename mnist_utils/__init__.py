"""mnist_utils: the small package behind the MNIST course notebooks.

Data (``load_mnist``), models (``MLP``, ``CNN``, ``build_model``), training (``fit``,
``TrainConfig``), evaluation, saving and loading, image preparation and plots. ``python -m
mnist_utils`` is its command line. The course's core is data.py, models.py, train.py and
evaluate.py; speed.py, distort.py and recipes.py hold the speed and robustness recipes, which a
learner can skip.
"""

from .config import History, TrainConfig, TrainingDiverged
from .data import (
    MnistData,
    MnistDataError,
    TensorBatches,
    load_mnist,
    load_raw,
    normalize_images,
    resolve_data_dir,
)
from .evaluate import EvalResult, evaluate, predict
from .images import load_digit_image
from .models import CNN, MLP, build_model, count_parameters
from .persistence import (
    FULL_FILE,
    STATE_FILE,
    Checkpoint,
    UntrustedCheckpointError,
    load_checkpoint,
    load_full_model,
    load_model,
    save_model,
)
from .plots import plot_history, plot_misclassified
from .progress import epoch_printer
from .recipes import RECIPES, Recipe
from .train import fit, select_device, train_one_epoch

__version__ = "0.3.0"
__all__ = [
    "CNN",
    "FULL_FILE",
    "MLP",
    "RECIPES",
    "STATE_FILE",
    "Checkpoint",
    "EvalResult",
    "History",
    "MnistData",
    "MnistDataError",
    "Recipe",
    "TensorBatches",
    "TrainConfig",
    "TrainingDiverged",
    "UntrustedCheckpointError",
    "build_model",
    "count_parameters",
    "epoch_printer",
    "evaluate",
    "fit",
    "load_checkpoint",
    "load_digit_image",
    "load_full_model",
    "load_mnist",
    "load_model",
    "load_raw",
    "normalize_images",
    "plot_history",
    "plot_misclassified",
    "predict",
    "resolve_data_dir",
    "save_model",
    "select_device",
    "train_one_epoch",
]
