"""``TrainingPanel``: an ipywidgets panel to train the course's models by turning knobs; displaying it trains nothing.
Train runs ``fit`` in a background thread: the kernel reads a click on Stop only while no cell is running, so a run in
the cell's own thread would leave Stop dead until it was over."""
import math
import threading
import time

import ipywidgets as w

from .. import RECIPES, TrainingDiverged, build_model, evaluate, fit, load_mnist
from ..validation import check_int
from .views import error_html, plot_output, runs_table_html, summary_html

VAL_SIZE = 5000  # held out of MNIST's 60,000 training images to watch the run
MAX_TRAIN_IMAGES = 60_000 - VAL_SIZE
CONFIG_KNOBS = ("epochs", "lr", "batch_size", "optimizer", "seed")  # the TrainConfig fields the panel sets
SETTINGS = (*CONFIG_KNOBS, "hidden", "dropout", "train_subset")  # TrainingPanel's keywords besides model, data_dir
LR_MIN, LR_MAX = 1e-5, 1.0  # the ends of the learning-rate slider
MAX_EPOCHS, MAX_DROPOUT = 30, 0.8  # the ends of these sliders, unless a larger starting value widens them
SIZES = (16, 32, 64, 128, 256, 512, 1024)  # the batch sizes and hidden-layer sizes on offer
ENDINGS = {"finished": ("Done.", "success"), "stopped": ("Stopped.", "warning"), "diverged": ("Diverged.", "danger"),
           "failed": ("Run failed.", "danger")}  # how a run ended -> (status line, colour of the progress bar)


def check_settings(model: str, settings: dict):
    """Check the starting values once; TrainConfig and build_model check theirs, this only the panel's own."""
    if unknown := sorted(set(settings) - set(SETTINGS)):
        raise TypeError(f"TrainingPanel got unknown setting {', '.join(unknown)}; "
                        f"valid: model, data_dir, {', '.join(SETTINGS)}")
    if not isinstance(model, str) or model not in RECIPES:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(map(repr, RECIPES))}")
    config = RECIPES[model].config.replace(**{k: v for k, v in settings.items() if k in CONFIG_KNOBS})
    if not LR_MIN <= config.lr <= LR_MAX:
        raise ValueError(f"lr must be between {LR_MIN:g} and {LR_MAX:g} (the slider's ends), got {config.lr:g}")
    given = {k: settings[k] for k in ("hidden", "dropout") if k in settings}
    mlp = build_model("mlp", **{**RECIPES["mlp"].hparams, **given}).hparams  # {"hidden": (256, 128), "dropout": 0.2}
    # 10,000 images by default: a run takes seconds, not minutes
    subset = check_int("train_subset", settings.get("train_subset", 10_000), maximum=MAX_TRAIN_IMAGES, example=10000)
    return config, mlp, subset


def knob(widget_class, name: str, description: str, width: str = "16em", **options):
    """A control with its label, its own Layout, and the CSS class ``mnist-panel-<name>`` that tests find it by."""
    return widget_class(description=description, style={"description_width": "8.5em"}, layout=w.Layout(width=width),
                        **options).add_class(f"mnist-panel-{name}")


def size_choice(name: str, description: str, value: int):
    return knob(w.Dropdown, name, description, options=sorted({*SIZES, value}), value=value)  # value always offered


class TrainingPanel(w.VBox):
    """Knobs, Train and Stop, a live plot, a progress bar, a summary and a table of runs. After a run: ``history``,
    ``trained_model``, ``runs`` (one dict per run) and ``last_error`` (the exception shown in the panel, or None)."""

    def __init__(self, model: str = "mlp", data_dir=None, **settings):
        config, mlp, train_subset = check_settings(model, settings)
        self.data_dir, self.runs = data_dir, []
        self.history = self.trained_model = self.last_error = self._thread = None
        self._stop_requested = threading.Event()
        slider = {"width": "24em", "continuous_update": False}  # act when the handle is let go, not on every step
        models = [({"mlp": "MLP", "cnn": "CNN"}.get(name, f"{name} recipe"), name) for name in RECIPES]
        self.model_choice = knob(w.Dropdown, "model", "Model", options=models, value=model)
        self.batch_size = size_choice("batch-size", "Batch size", config.batch_size)
        self.train_subset = knob(w.BoundedIntText, "subset", "Training images", value=train_subset, min=1,
                                 max=MAX_TRAIN_IMAGES, step=1000)
        self.seed = knob(w.BoundedIntText, "seed", "Seed", value=config.seed, min=0, max=2**31 - 1)
        self.epochs = knob(w.IntSlider, "epochs", "Epochs", value=config.epochs, min=1,
                           max=max(MAX_EPOCHS, config.epochs), **slider)
        self.lr = knob(w.FloatLogSlider, "lr", "Learning rate", value=config.lr, min=math.log10(LR_MIN),
                       max=math.log10(LR_MAX), step=0.25, readout_format=".2g", **slider)
        self.optimizer = knob(w.Dropdown, "optimizer", "Optimizer", options=[("Adam", "adam"), ("SGD", "sgd")],
                              value=config.optimizer)
        self.hidden1 = size_choice("hidden1", "Hidden layer 1", mlp["hidden"][0])
        self.hidden2 = size_choice("hidden2", "Hidden layer 2", mlp["hidden"][1])
        self.dropout = knob(w.FloatSlider, "dropout", "Dropout", value=mlp["dropout"], min=0.0,
                            max=max(MAX_DROPOUT, mlp["dropout"]), step=0.05, **slider)
        self.mlp_box = w.HBox([w.VBox([self.hidden1, self.hidden2]), self.dropout]).add_class("mnist-panel-mlp-only")
        self.mlp_box.layout.display = None if RECIPES[model].model == "mlp" else "none"
        self.train_button = w.Button(description="Train", icon="play", button_style="success").add_class(
            "mnist-panel-train")
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="danger", disabled=True,
                                    tooltip="end the run after the current batch").add_class("mnist-panel-stop")
        self.progress = w.IntProgress(max=1, layout=w.Layout(width="20em")).add_class("mnist-panel-progress")
        self.status = w.Label("Set the knobs, then click Train.").add_class("mnist-panel-status")
        self.error = w.HTML("").add_class("mnist-panel-error")
        self.plot = w.Output(layout=w.Layout(min_height="2em")).add_class("mnist-panel-plot")
        self.summary = w.HTML("").add_class("mnist-panel-summary")
        self.runs_table = w.HTML(runs_table_html([])).add_class("mnist-panel-runs")
        super().__init__([w.HTML("<b>Train a model: turn the knobs, click Train, compare the runs below.</b>"),
                          w.HBox([w.VBox([self.model_choice, self.batch_size, self.train_subset, self.seed]),
                                  w.VBox([self.epochs, self.lr, self.optimizer])]), self.mlp_box,
                          w.HBox([self.train_button, self.stop_button, self.progress, self.status]),
                          self.error, self.plot, self.summary, self.runs_table])
        self.add_class("mnist-panel")
        self.model_choice.observe(lambda change: self._apply_recipe(change["new"]), "value")
        self.train_button.on_click(lambda _: self.train())
        self.stop_button.on_click(lambda _: self.stop())

    def _apply_recipe(self, name: str) -> None:
        """Start the knobs from the chosen model's recipe; hidden units and dropout only exist for the MLP."""
        recipe = RECIPES[name]
        self.epochs.value, self.lr.value = recipe.config.epochs, recipe.config.lr
        self.batch_size.value, self.optimizer.value = recipe.config.batch_size, recipe.config.optimizer
        if recipe.model == "mlp":
            self.hidden1.value, self.hidden2.value = recipe.hparams["hidden"]
            self.dropout.value = recipe.hparams["dropout"]
        self.mlp_box.layout.display = None if recipe.model == "mlp" else "none"

    def settings(self) -> dict:
        """The knobs as they are now: what the next click on Train will use."""
        knobs = {"model": self.model_choice.value, **{k: getattr(self, k).value for k in CONFIG_KNOBS}}
        is_mlp = RECIPES[knobs["model"]].model == "mlp"
        return {**knobs, "hidden": (self.hidden1.value, self.hidden2.value) if is_mlp else None,
                "dropout": self.dropout.value if is_mlp else None, "train_subset": self.train_subset.value}

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def train(self, block: bool = False) -> bool:
        """Start a run with the current settings (what Train does). False if it could not start."""
        if self.running:
            self.error.value = error_html("A run is already going: wait for it or click Stop.")
            return False
        settings = self.settings()
        if settings["batch_size"] > settings["train_subset"]:
            self.error.value = error_html(
                f"Batch size {settings['batch_size']} is larger than the training subset ({settings['train_subset']}"
                " images): pick a smaller batch size or more images.")
            return False
        self.error.value, self.last_error = "", None
        self._stop_requested.clear()
        self.train_button.disabled, self.stop_button.disabled, self.progress.bar_style = True, False, "info"
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
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _run(self, settings: dict) -> None:
        started, recipe = time.perf_counter(), RECIPES[settings["model"]]
        try:
            config = recipe.config.replace(**{k: settings[k] for k in CONFIG_KNOBS})
            hparams = {k: settings[k] for k in ("hidden", "dropout")} if settings["hidden"] else recipe.hparams
            self.status.value = "Loading MNIST…"
            data = load_mnist(self.data_dir, normalize=recipe.normalize, val_size=VAL_SIZE,
                              train_subset=settings["train_subset"], seed=settings["seed"])
            self._batches, self._last_tick, self._epochs = 0, 0.0, config.epochs
            steps = math.ceil(settings["train_subset"] / config.batch_size)  # batches per epoch
            self.progress.value, self.progress.max = 0, config.epochs * steps
            self.status.value, self.plot.outputs = f"Epoch 1/{config.epochs}…", ()
            try:
                model, history = fit(recipe.model, data, config, hparams=hparams, progress=False,
                                     callback=self._after_epoch, should_stop=self._after_batch)
                ended = "stopped" if history.stopped_early else "finished"
            except TrainingDiverged as exc:
                model, history, ended = None, exc.history, "diverged"
                self.error.value = error_html(str(exc))
            self.history, self.trained_model = history, model
            self.status.value = "Testing on the 10,000 test images…"
            test = evaluate(model, data.test) if model is not None and history.epochs else None  # 0 epochs: no test
            run = {**settings, "run": len(self.runs) + 1, "epochs": history.epochs, "epochs_asked": settings["epochs"],
                   "val_acc": history.val_acc[-1] if history.val_acc else None,
                   "test_acc": None if test is None else test.accuracy,
                   "test_images": 0 if test is None else test.count,
                   "seconds": time.perf_counter() - started, "ended": ended}
            self.runs.append(run)
            if history.epochs:
                self.plot.outputs = (plot_output(history, title=f"Run {run['run']}"),)
            self.summary.value, self.runs_table.value = summary_html(run), runs_table_html(self.runs)
        except Exception as exc:  # noqa: BLE001  (a click must end in a message in the panel, not a lost traceback)
            self.last_error, ended = exc, "failed"
            self.error.value = error_html(f"{type(exc).__name__}: {exc}")
        self.status.value, self.progress.bar_style = ENDINGS[ended]
        self.train_button.disabled, self.stop_button.disabled = False, True

    def _after_batch(self) -> bool:
        """Asked by ``fit`` after every batch: move the bar (a few times a second at most) and report Stop."""
        self._batches += 1
        if time.perf_counter() - self._last_tick > 0.2:
            self._last_tick = time.perf_counter()
            self.progress.value = self._batches
        return self._stop_requested.is_set()

    def _after_epoch(self, history) -> bool:
        self.history = history
        self.progress.value = self._batches
        self.plot.outputs = (plot_output(history),)
        accuracy = f", validation accuracy {100 * history.val_acc[-1]:.2f} %" if history.val_acc else ""
        more = f"; epoch {history.epochs + 1}/{self._epochs}…" if history.epochs < self._epochs else ""
        self.status.value = f"Epoch {history.epochs}/{self._epochs} done{accuracy}{more}"
        return self._stop_requested.is_set()
