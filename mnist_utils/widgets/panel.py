"""``TrainingPanel``: an ipywidgets panel to train the course's models by turning its controls.

Train runs ``fit`` in a background thread: the kernel reads a click on Stop only while no cell runs,
so in the cell's own thread Stop would be dead.
"""

import math
import threading
import time

import ipywidgets as w

from .. import RECIPES, TrainingDiverged, build_model, evaluate, fit, load_mnist
from ..validation import check_choice, check_int
from .panel_views import error_html, percent, plot_output, runs_table_html, summary_html

VAL_SIZE = 5000  # held out of MNIST's 60,000 training images to watch the run
MAX_TRAIN_IMAGES = 60_000 - VAL_SIZE
CONFIG_FIELDS = (
    "epochs",
    "lr",
    "batch_size",
    "optimizer",
    "seed",
)  # the TrainConfig fields it sets
# TrainingPanel's keywords besides model and data_dir
SETTINGS = (*CONFIG_FIELDS, "hidden", "dropout", "train_subset")
LR_MIN = 1e-5  # the ends of the learning-rate slider
LR_MAX = 1.0
# how a run ended -> (status line, colour of the progress bar)
ENDINGS = {
    "finished": ("Done.", "success"),
    "stopped": ("Stopped.", "warning"),
    "diverged": ("Diverged.", "danger"),
    "failed": ("Run failed.", "danger"),
}


def labelled_control(widget_class, name: str, description: str, **options):
    """A labelled control with the CSS class ``mnist-panel-<name>`` that tests find it by."""
    if widget_class is w.Dropdown and "options" not in options:
        # a batch or layer size: the value given is always among the choices
        options["options"] = sorted({16, 32, 64, 128, 256, 512, 1024, options["value"]})
    options.setdefault("layout", {"width": "16em"})
    if "Slider" in widget_class.__name__:
        # wider, and acting when the handle is let go, not at every step
        options["continuous_update"] = False
        options["layout"] = {"width": "24em"}
    control = widget_class(description=description, style={"description_width": "8.5em"}, **options)
    return control.add_class(f"mnist-panel-{name}")


def check_settings(model: str, settings: dict):
    """The panel's starting settings, checked before any widget is made: (config, hidden, dropout,
    subset)."""
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise TypeError(
            f"TrainingPanel got unknown setting {', '.join(unknown)}; valid: {', '.join(SETTINGS)}"
        )
    config_changes = {}
    for key in CONFIG_FIELDS:
        if key in settings:
            config_changes[key] = settings[key]
    config = RECIPES[model].config.replace(**config_changes)  # TrainConfig checks these
    if not LR_MIN <= config.lr <= LR_MAX:
        raise ValueError(
            f"lr must be between {LR_MIN:g} and {LR_MAX:g} (the slider's ends), got {config.lr:g}"
        )
    mlp_hparams = dict(RECIPES["mlp"].hparams)
    for key in ("hidden", "dropout"):
        if key in settings:
            mlp_hparams[key] = settings[key]
    mlp = build_model("mlp", **mlp_hparams)  # checks hidden and dropout now, not at the first Train
    subset = settings.get("train_subset", 10_000)
    subset = check_int("train_subset", subset, maximum=MAX_TRAIN_IMAGES)
    return config, mlp.hparams["hidden"], mlp.hparams["dropout"], subset


class TrainingPanel(w.VBox):
    """Controls, Train, Stop, live curves and a table of runs.

    After a run: ``runs`` (one dict per run), ``history``, ``trained_model`` and ``last_error``.
    """

    def __init__(self, model: str = "mlp", data_dir=None, **settings):
        model = check_choice("model", model, RECIPES)
        config, hidden, dropout, train_subset = check_settings(model, settings)
        self.data_dir = data_dir
        self.runs = []
        self.history = None
        self.trained_model = None
        self.last_error = None
        self.thread = None
        self.stop_requested = threading.Event()
        self.make_controls(model, config, hidden, dropout, train_subset)
        self.make_outputs()
        super().__init__(self.layout_rows())
        self.add_class("mnist-panel")
        self.runs_table.value = runs_table_html([])
        self.show_mlp_controls(RECIPES[model].model == "mlp")
        self.model_choice.observe(self.on_model_chosen, "value")
        self.train_button.on_click(self.on_train_clicked)
        self.stop_button.on_click(self.on_stop_clicked)

    def make_controls(self, model, config, hidden, dropout, train_subset) -> None:
        self.model_choice = labelled_control(
            w.Dropdown, "model", "Model", options=list(RECIPES), value=model
        )
        self.batch_size = labelled_control(
            w.Dropdown, "batch-size", "Batch size", value=config.batch_size
        )
        self.train_subset = labelled_control(
            w.BoundedIntText,
            "subset",
            "Training images",
            value=train_subset,
            min=1,
            max=MAX_TRAIN_IMAGES,
            step=1000,
        )
        self.seed = labelled_control(
            w.BoundedIntText, "seed", "Seed", value=config.seed, min=0, max=2**31 - 1
        )
        self.epochs = labelled_control(
            w.IntSlider, "epochs", "Epochs", value=config.epochs, min=1, max=max(30, config.epochs)
        )
        self.lr = labelled_control(
            w.FloatLogSlider,
            "lr",
            "Learning rate",
            value=config.lr,
            min=math.log10(LR_MIN),
            max=math.log10(LR_MAX),
            step=0.25,
            readout_format=".2g",
        )
        self.optimizer = labelled_control(
            w.Dropdown, "optimizer", "Optimizer", options=["adam", "sgd"], value=config.optimizer
        )
        self.hidden1 = labelled_control(w.Dropdown, "hidden1", "Hidden layer 1", value=hidden[0])
        self.hidden2 = labelled_control(w.Dropdown, "hidden2", "Hidden layer 2", value=hidden[1])
        self.dropout = labelled_control(
            w.FloatSlider, "dropout", "Dropout", value=dropout, max=max(0.8, dropout), step=0.05
        )
        self.mlp_box = w.HBox([w.VBox([self.hidden1, self.hidden2]), self.dropout])
        self.mlp_box.add_class("mnist-panel-mlp-only")

    def make_outputs(self) -> None:
        self.train_button = w.Button(description="Train", button_style="success")
        self.train_button.add_class("mnist-panel-train")
        self.stop_button = w.Button(description="Stop", button_style="danger", disabled=True)
        self.stop_button.add_class("mnist-panel-stop")
        self.progress = w.IntProgress(max=1, layout={"width": "20em"})
        self.progress.add_class("mnist-panel-progress")
        self.status = w.Label("Set the controls, then click Train.").add_class("mnist-panel-status")
        self.error = w.HTML().add_class("mnist-panel-error")
        self.summary = w.HTML().add_class("mnist-panel-summary")
        self.plot = w.Output().add_class("mnist-panel-plot")
        self.runs_table = w.HTML().add_class("mnist-panel-runs")

    def layout_rows(self) -> list:
        data_column = w.VBox([self.model_choice, self.batch_size, self.train_subset, self.seed])
        training_column = w.VBox([self.epochs, self.lr, self.optimizer])
        buttons = w.HBox([self.train_button, self.stop_button, self.progress, self.status])
        controls = w.HBox([data_column, training_column])
        return [
            controls,
            self.mlp_box,
            buttons,
            self.error,
            self.plot,
            self.summary,
            self.runs_table,
        ]

    def show_mlp_controls(self, shown: bool) -> None:
        """Hidden units and dropout exist only for the MLP."""
        self.mlp_box.layout.display = None if shown else "none"

    def on_model_chosen(self, change) -> None:
        """Start the controls from the chosen model's recipe."""
        recipe = RECIPES[change["new"]]
        self.epochs.value = recipe.config.epochs
        self.lr.value = recipe.config.lr
        self.batch_size.value = recipe.config.batch_size
        self.optimizer.value = recipe.config.optimizer
        if recipe.model == "mlp":
            self.hidden1.value = recipe.hparams["hidden"][0]
            self.hidden2.value = recipe.hparams["hidden"][1]
            self.dropout.value = recipe.hparams["dropout"]
        self.show_mlp_controls(recipe.model == "mlp")

    def on_train_clicked(self, _button) -> None:
        self.train()

    def on_stop_clicked(self, _button) -> None:
        self.stop()

    def settings(self) -> dict:
        """The controls as they are now: what the next click on Train will use."""
        is_mlp = RECIPES[self.model_choice.value].model == "mlp"
        settings = {"model": self.model_choice.value}
        for key in CONFIG_FIELDS:
            settings[key] = getattr(self, key).value
        settings["hidden"] = (self.hidden1.value, self.hidden2.value) if is_mlp else None
        settings["dropout"] = self.dropout.value if is_mlp else None
        settings["train_subset"] = self.train_subset.value
        return settings

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def train(self, block: bool = False) -> bool:
        """Start a run with the current settings (what Train does). False if it could not start."""
        settings = self.settings()
        too_big = settings["batch_size"] > settings["train_subset"]
        message = ""
        if too_big:
            message = (
                f"Batch size {settings['batch_size']} is larger than the training subset "
                f"({settings['train_subset']} images)."
            )
        self.error.value = error_html(message)
        if too_big or self.running:
            return False
        self.stop_requested.clear()
        self.train_button.disabled = True
        self.stop_button.disabled = False
        self.progress.bar_style = "info"
        self.thread = threading.Thread(
            target=self.run, args=(settings,), name="mnist-panel-training", daemon=True
        )
        self.thread.start()
        if block:
            return self.wait()
        return True

    def stop(self) -> None:
        """Ask the run to end after the current batch (what Stop does)."""
        self.stop_requested.set()
        self.status.value = "Stopping after this batch…"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run (if any) has finished; False if ``timeout`` seconds passed
        first."""
        if self.thread is not None:
            self.thread.join(timeout)
        return not self.running

    def run(self, settings: dict) -> None:
        """One run, in the training thread: every way it ends shows in the panel."""
        started = time.perf_counter()
        self.last_error = None
        try:
            ended = self.train_and_report(settings, started)
        # a click must end in a message in the panel, not in a traceback no one sees
        except Exception as exc:  # noqa: BLE001
            self.last_error = exc
            ended = "failed"
            self.error.value = error_html(f"{type(exc).__name__}: {exc}")
        status, colour = ENDINGS[ended]
        self.status.value = status
        self.progress.bar_style = colour
        self.train_button.disabled = False
        self.stop_button.disabled = True

    def train_and_report(self, settings: dict, started: float) -> str:
        """Load the data, train, test, and add the run to the table; returns how the run ended."""
        recipe = RECIPES[settings["model"]]
        config_changes = {}
        for key in CONFIG_FIELDS:
            config_changes[key] = settings[key]
        config = recipe.config.replace(**config_changes)
        hparams = recipe.hparams
        if settings["hidden"]:
            hparams = {"hidden": settings["hidden"], "dropout": settings["dropout"]}
        self.status.value = "Loading MNIST…"
        self.plot.outputs = ()
        data = load_mnist(
            self.data_dir,
            normalize=recipe.normalize,
            val_size=VAL_SIZE,
            train_subset=settings["train_subset"],
            seed=settings["seed"],
        )
        self.epochs_asked = config.epochs
        self.batches_done = 0
        self.progress.value = 0
        self.progress.max = config.epochs * math.ceil(settings["train_subset"] / config.batch_size)
        try:
            model, history = fit(
                recipe.model,
                data,
                config,
                hparams=hparams,
                progress=False,
                callback=self.after_epoch,
                should_stop=self.after_batch,
            )
            ended = "stopped" if history.stopped_early else "finished"
        except TrainingDiverged as exc:
            model = None
            history = exc.history
            ended = "diverged"
            self.error.value = error_html(str(exc))
        self.history = history
        self.trained_model = model
        test = None
        if model is not None and history.epochs:  # stopped before one epoch ended: no test
            test = evaluate(model, data.test)
        run = {
            **settings,
            "run": len(self.runs) + 1,
            "epochs": history.epochs,
            "epochs_asked": settings["epochs"],
            "val_acc": history.val_acc[-1] if history.val_acc else None,
            "ended": ended,
            "test_acc": None if test is None else test.accuracy,
            "test_images": 0 if test is None else test.count,
            "seconds": time.perf_counter() - started,
        }
        self.runs.append(run)
        self.plot.outputs = (plot_output(history, title=f"Run {run['run']}"),)
        self.summary.value = summary_html(run)
        self.runs_table.value = runs_table_html(self.runs)
        return ended

    def after_batch(self) -> bool:
        """Asked by fit after every batch: True ends the run."""
        self.batches_done += 1
        # a message to the browser per batch would slow small models down
        if self.batches_done % 10 == 0 or self.batches_done == self.progress.max:
            self.progress.value = self.batches_done
        return self.stop_requested.is_set()

    def after_epoch(self, history) -> bool:
        self.history = history
        self.plot.outputs = (plot_output(history),)
        accuracy = percent(history.val_acc[-1])
        self.status.value = (
            f"Epoch {history.epochs}/{self.epochs_asked} done: {accuracy} on validation"
        )
        return self.stop_requested.is_set()
