"""``TrainingPanel``: an ipywidgets panel to train the course's models by turning knobs.

    from mnist_utils.widgets import TrainingPanel
    panel = TrainingPanel(model="mlp", data_dir=DATA_DIR)
    panel  # displaying the panel trains nothing; click Train

Displaying the panel loads no data and trains nothing. Train runs in a background thread: a click on Stop
is a comm message, and the kernel only handles those while it is not busy running a cell, so training in the
cell's own thread would leave Stop dead until the run was over. From that thread the panel updates its
progress bar, plot, summary and runs table live.
"""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

import ipywidgets as w

from ..data import TRAIN_SIZE, load_mnist, resolve_data_dir
from ..evaluate import evaluate
from ..models import MODELS
from ..recipes import RECIPES, Recipe
from ..train import TrainConfig, TrainingDiverged, fit
from ..validation import check_choice, check_float, check_hidden, check_int
from .views import error_html, history_png, png_output, runs_table_html, summary_html

VAL_SIZE = 5000
MAX_TRAIN_IMAGES = TRAIN_SIZE - VAL_SIZE
BATCH_SIZES = (16, 32, 64, 128, 256, 512, 1024)
HIDDEN_SIZES = (16, 32, 64, 128, 256, 512, 1024)
LR_EXPONENTS = (-5, 0)  # the learning-rate slider spans 1e-5 .. 1
MAX_EPOCHS = 30
DEFAULT_TRAIN_IMAGES = 10_000  # a run takes seconds, not minutes; learners can raise it
INITIAL_VALUES = ("epochs", "lr", "batch_size", "optimizer", "hidden", "dropout", "train_subset", "seed")
CACHED_DATASETS = 2  # each full copy of MNIST in memory is about 220 MB
LABEL_STYLE = {"description_width": "8.5em"}
MODEL_LABELS = {"mlp": "MLP", "cnn": "CNN"}


def model_choices() -> list[str]:
    """mlp and cnn, then any other recipe whose model can be built."""
    extra = [name for name, recipe in RECIPES.items() if name not in ("mlp", "cnn") and recipe.model in MODELS]
    return ["mlp", "cnn", *extra]


def recipe_for(name: str) -> Recipe:
    return RECIPES.get(name) or Recipe(name, TrainConfig())


def _tagged(widget, name: str):
    """Give ``widget`` the stable CSS class ``mnist-panel-<name>`` that tests and styling find it by."""
    widget.add_class(f"mnist-panel-{name}")
    return widget


class TrainingPanel(w.VBox):
    """Knobs, Train and Stop buttons, a live plot, a progress bar, a summary line and a table of runs.

    After a run: ``history`` (the last run's History), ``trained_model``, ``runs`` (one dict per run) and
    ``last_error`` (the exception shown in the panel, or None). ``train(block=True)`` or ``wait()`` let code
    wait for a run started with the Train button.
    """

    def __init__(self, model: str = "mlp", data_dir=None, **initial_values):
        unknown = sorted(set(initial_values) - set(INITIAL_VALUES))
        if unknown:
            raise TypeError(f"TrainingPanel got unknown setting {', '.join(unknown)}; "
                            f"valid: model, data_dir, {', '.join(INITIAL_VALUES)}")
        model = check_choice("model", model, model_choices())
        self.data_dir = data_dir
        self.history = None
        self.trained_model = None
        self.runs: list[dict] = []
        self.last_error: Exception | None = None
        self._data_cache: OrderedDict = OrderedDict()
        self._thread: threading.Thread | None = None
        self._stop_requested = threading.Event()
        self._build_controls()
        super().__init__(children=self._layout())
        self.add_class("mnist-panel")
        self.model_choice.value = model
        self._apply_recipe(model)
        self.model_choice.observe(lambda change: self._apply_recipe(change["new"]), "value")
        self._apply_initial_values(initial_values)

    # ----- building ---------------------------------------------------------------------------------
    def _build_controls(self) -> None:
        # a fresh Layout for each widget: a shared one would tie their sizes and visibility together
        def slider():
            return dict(continuous_update=False, style=LABEL_STYLE, layout=w.Layout(width="24em"))

        def field():
            return dict(style=LABEL_STYLE, layout=w.Layout(width="16em"))

        choices = [(MODEL_LABELS.get(name, f"{name} recipe"), name) for name in model_choices()]
        self.model_choice = _tagged(w.Dropdown(options=choices, description="Model", **field()), "model")
        self.optimizer = _tagged(w.Dropdown(options=[("Adam", "adam"), ("SGD", "sgd")],
                                            description="Optimizer", **field()), "optimizer")
        self.epochs = _tagged(w.IntSlider(value=10, min=1, max=MAX_EPOCHS, description="Epochs", **slider()), "epochs")
        self.lr = _tagged(w.FloatLogSlider(value=1e-3, base=10, min=LR_EXPONENTS[0], max=LR_EXPONENTS[1], step=0.25,
                                           readout_format=".2g", description="Learning rate", **slider()), "lr")
        self.batch_size = _tagged(w.Dropdown(options=BATCH_SIZES, value=64, description="Batch size", **field()),
                                  "batch-size")
        self.train_subset = _tagged(w.BoundedIntText(value=DEFAULT_TRAIN_IMAGES, min=1, max=MAX_TRAIN_IMAGES,
                                                     step=1000, description="Training images", **field()), "subset")
        self.seed = _tagged(w.BoundedIntText(value=0, min=0, max=2**31 - 1, description="Seed", **field()), "seed")
        self.hidden1 = _tagged(w.Dropdown(options=HIDDEN_SIZES, value=256, description="Hidden layer 1", **field()),
                               "hidden1")
        self.hidden2 = _tagged(w.Dropdown(options=HIDDEN_SIZES, value=128, description="Hidden layer 2", **field()),
                               "hidden2")
        self.dropout = _tagged(w.FloatSlider(value=0.2, min=0.0, max=0.8, step=0.05, description="Dropout",
                                             **slider()), "dropout")
        self.train_button = _tagged(w.Button(description="Train", button_style="success", icon="play"), "train")
        self.stop_button = _tagged(w.Button(description="Stop", button_style="danger", icon="stop", disabled=True,
                                            tooltip="end the run after the current batch"), "stop")
        self.progress = _tagged(w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="20em")), "progress")
        self.status = _tagged(w.Label("Set the knobs, then click Train."), "status")
        self.error = _tagged(w.HTML(""), "error")
        self.plot = _tagged(w.Output(layout=w.Layout(min_height="2em")), "plot")
        self.summary = _tagged(w.HTML(""), "summary")
        self.runs_table = _tagged(w.HTML(runs_table_html([])), "runs")
        self.mlp_box = _tagged(w.HBox([w.VBox([self.hidden1, self.hidden2]), self.dropout]), "mlp-only")
        self.train_button.on_click(lambda _: self.train())
        self.stop_button.on_click(lambda _: self.stop())

    def _layout(self) -> list:
        return [
            w.HTML("<b>Train a model: turn the knobs, click Train, compare the runs below.</b>"),
            w.HBox([w.VBox([self.model_choice, self.batch_size, self.train_subset, self.seed]),
                    w.VBox([self.epochs, self.lr, self.optimizer])]),
            self.mlp_box,
            w.HBox([self.train_button, self.stop_button, self.progress, self.status]),
            self.error, self.plot, self.summary, self.runs_table,
        ]

    def _apply_recipe(self, name: str) -> None:
        """Start the knobs from the model's recipe; hidden units and dropout only exist for the MLP."""
        recipe = recipe_for(name)
        config = recipe.config
        self.epochs.value = min(config.epochs, MAX_EPOCHS)
        self.lr.value = config.lr
        self._set_option(self.batch_size, config.batch_size)
        self.optimizer.value = config.optimizer
        is_mlp = recipe.model == "mlp"
        if is_mlp:
            hidden = check_hidden(recipe.hparams.get("hidden", MODELS["mlp"][1]["hidden"]))
            self._set_option(self.hidden1, hidden[0])
            self._set_option(self.hidden2, hidden[1])
            self.dropout.value = recipe.hparams.get("dropout", 0.0)
        self.mlp_box.layout.display = None if is_mlp else "none"

    def _apply_initial_values(self, values: dict) -> None:
        if "epochs" in values:
            self.epochs.max = max(MAX_EPOCHS, check_int("epochs", values["epochs"], example=3))
            self.epochs.value = values["epochs"]
        if "lr" in values:
            low, high = (10.0 ** e for e in LR_EXPONENTS)
            self.lr.value = check_float("lr", values["lr"], at_least=low, at_most=high, example=1e-3)
        if "batch_size" in values:
            self._set_option(self.batch_size, check_int("batch_size", values["batch_size"], example=64))
        if "optimizer" in values:
            self.optimizer.value = check_choice("optimizer", values["optimizer"], ("adam", "sgd"))
        if "hidden" in values:
            hidden = check_hidden(values["hidden"])
            self._set_option(self.hidden1, hidden[0])
            self._set_option(self.hidden2, hidden[1])
        if "dropout" in values:
            self.dropout.value = check_float("dropout", values["dropout"], at_least=0.0, at_most=0.8, example=0.2)
        if "train_subset" in values:
            self.train_subset.value = check_int("train_subset", values["train_subset"], maximum=MAX_TRAIN_IMAGES,
                                                example=DEFAULT_TRAIN_IMAGES)
        if "seed" in values:
            self.seed.value = check_int("seed", values["seed"], minimum=0, example=0)

    @staticmethod
    def _set_option(dropdown: w.Dropdown, value: int) -> None:
        if value not in dropdown.options:
            dropdown.options = tuple(sorted({*dropdown.options, value}))
        dropdown.value = value

    # ----- running ----------------------------------------------------------------------------------
    def settings(self) -> dict:
        """The knobs as they are now: what the next click on Train will use."""
        is_mlp = recipe_for(self.model_choice.value).model == "mlp"
        return {"model": self.model_choice.value, "epochs": self.epochs.value, "lr": self.lr.value,
                "batch_size": self.batch_size.value, "optimizer": self.optimizer.value,
                "hidden": (self.hidden1.value, self.hidden2.value) if is_mlp else None,
                "dropout": self.dropout.value if is_mlp else None,
                "train_subset": self.train_subset.value, "seed": self.seed.value}

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def train(self, block: bool = False) -> bool:
        """Start a run with the current settings (what Train does). False if it could not start."""
        if self.running:
            self._show_error("A run is already going: wait for it or click Stop.")
            return False
        settings = self.settings()
        if settings["batch_size"] > settings["train_subset"]:
            self._show_error(f"Batch size {settings['batch_size']} is larger than the training subset "
                             f"({settings['train_subset']} images): pick a smaller batch size or more images.")
            return False
        self._show_error("")
        self.last_error = None
        self._stop_requested.clear()
        self._set_running(True)
        self._thread = threading.Thread(target=self._run, args=(settings,), name="mnist-panel-training", daemon=True)
        self._thread.start()
        if block:
            self.wait()
        return True

    def stop(self) -> None:
        """Ask the run to end after the current batch (what Stop does)."""
        self._stop_requested.set()
        self.status.value = "Stopping after this batch…"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run (if any) has finished; False if ``timeout`` seconds passed first."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.running

    def _run(self, settings: dict) -> None:
        started = time.perf_counter()
        recipe = recipe_for(settings["model"])
        history = model = None
        try:
            config = recipe.config.replace(epochs=settings["epochs"], lr=settings["lr"], seed=settings["seed"],
                                           batch_size=settings["batch_size"], optimizer=settings["optimizer"])
            hparams = dict(recipe.hparams)
            if settings["hidden"] is not None:
                hparams.update(hidden=settings["hidden"], dropout=settings["dropout"])
            self.status.value = "Loading MNIST…"
            data = self._load_data(settings["train_subset"], settings["seed"], recipe.normalize)
            self._steps = math.ceil(len(data.train_y) / config.batch_size)
            self._batches, self._last_tick = 0, 0.0
            self.progress.max, self.progress.value = config.epochs * self._steps, 0
            self.status.value = f"Epoch 1/{config.epochs}…"
            self.plot.outputs = ()
            model, history = fit(recipe.model, data, config, hparams=hparams, progress=False,
                                 callback=lambda h: self._after_epoch(h, config.epochs),
                                 should_stop=self._after_batch)
            ended = "stopped" if history.stopped_early else "finished"
        except TrainingDiverged as exc:
            history, ended = exc.history, "diverged"
            self._show_error(str(exc))
        except Exception as exc:  # a learner's click must end in a message in the panel, not a lost traceback
            self.last_error = exc
            self._show_error(f"{type(exc).__name__}: {exc}")
            self.status.value = "Run failed."
            self._set_running(False, bar_style="danger")
            return
        try:
            self.history, self.trained_model = history, model
            self.status.value = "Testing on the 10,000 test images…"
            # a run stopped inside its first epoch has learned next to nothing: don't make the learner wait
            # for a test pass that would only say so
            test = evaluate(model, data.test) if model is not None and history.epochs else None
            val_acc = history.val_acc[-1] if history.val_acc else None
            self._record_run(settings, history, test, val_acc, time.perf_counter() - started, ended)
            self.status.value = {"finished": "Done.", "stopped": "Stopped.", "diverged": "Diverged."}[ended]
            self._set_running(False, bar_style={"finished": "success", "stopped": "warning"}.get(ended, "danger"))
        except Exception as exc:  # same reason as above
            self.last_error = exc
            self._show_error(f"{type(exc).__name__}: {exc}")
            self._set_running(False, bar_style="danger")

    def _after_batch(self) -> bool:
        """Polled by ``fit`` after every batch: move the bar (a few times a second at most) and report Stop."""
        self._batches += 1
        now = time.perf_counter()
        if now - self._last_tick > 0.2:
            self._last_tick = now
            self.progress.value = min(self._batches, self.progress.max)
        return self._stop_requested.is_set()

    def _after_epoch(self, history, epochs: int) -> bool:
        self.history = history
        self.progress.value = min(history.epochs * self._steps, self.progress.max)
        self.plot.outputs = (png_output(history_png(history)),)
        accuracy = f", validation accuracy {100 * history.val_acc[-1]:.2f} %" if history.val_acc else ""
        more = f"; epoch {history.epochs + 1}/{epochs}…" if history.epochs < epochs else ""
        self.status.value = f"Epoch {history.epochs}/{epochs} done{accuracy}{more}"
        return self._stop_requested.is_set()

    def _record_run(self, settings, history, test, val_acc, seconds, ended) -> None:
        run = {**settings, "run": len(self.runs) + 1, "epochs": history.epochs, "epochs_asked": settings["epochs"],
               "val_acc": val_acc, "test_acc": None if test is None else test.accuracy,
               "test_images": 0 if test is None else test.count, "seconds": seconds, "ended": ended}
        self.runs.append(run)
        if history.epochs:
            self.plot.outputs = (png_output(history_png(history, title=f"Run {run['run']}")),)
        self.summary.value = summary_html(run)
        self.runs_table.value = runs_table_html(self.runs)

    def _load_data(self, train_subset: int, seed: int, normalize: str):
        """Load MNIST once per (folder, subset, seed, normalization); keep the last few in memory."""
        key = (str(resolve_data_dir(self.data_dir)), train_subset, seed, normalize)
        if key not in self._data_cache:
            self._data_cache[key] = load_mnist(self.data_dir, normalize=normalize, val_size=VAL_SIZE,
                                               train_subset=train_subset, seed=seed)
            while len(self._data_cache) > CACHED_DATASETS:
                self._data_cache.popitem(last=False)
        self._data_cache.move_to_end(key)
        return self._data_cache[key]

    def _set_running(self, running: bool, bar_style: str = "") -> None:
        self.train_button.disabled = running
        self.stop_button.disabled = not running
        self.progress.bar_style = "info" if running else bar_style

    def _show_error(self, message: str) -> None:
        self.error.value = error_html(message)
