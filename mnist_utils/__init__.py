"""mnist_utils: the thin, tested package behind the MNIST course notebooks.

Data (``load_mnist``, ``classic_loaders``), models (``MLP``, ``CNN``, ``build_model``), training
(``fit``, ``TrainConfig``), evaluation, persistence, image preparation and plots.
"""
from .data import (MNIST_FILES, NORMALIZATIONS, MnistData, MnistDataError, TensorBatches, classic_loaders,
                   load_mnist, load_raw, normalize_images, resolve_data_dir)
from .evaluate import EvalResult, confusion_matrix, evaluate, predict
from .images import load_digit_image
from .models import CNN, MLP, MODELS, build_model, count_parameters
from .persistence import (FULL_FILE, STATE_FILE, Checkpoint, UntrustedCheckpointError, load_checkpoint,
                          load_full_model, load_model, save_model)
from .plots import plot_confusion_matrix, plot_history, plot_misclassified, plot_samples, save_figure
from .recipes import RECIPES, Recipe
from .train import (History, TrainConfig, TrainingDiverged, fit, seed_everything, select_device,
                    train_one_epoch)

__version__ = "0.1.0"


__all__ = [name for name in dir() if not name.startswith("_")]
