"""``TrainingPanel``: an ipywidgets panel to train the course's models by turning knobs. Train runs ``fit`` in a
background thread: the kernel reads a click on Stop only while no cell runs, so in the cell's thread Stop is dead."""
import base64
import html
import io
import math
import threading
import time

import ipywidgets as w
import pandas as pd
from matplotlib.figure import Figure  # not pyplot: a pyplot figure made in the run's thread would show in the next cell

from .. import RECIPES, TrainingDiverged, build_model, evaluate, fit, load_mnist
from ..plots import draw_history
from ..validation import check_choice, check_int

VAL_SIZE = 5000  # held out of MNIST's 60,000 training images to watch the run
CONFIG_KNOBS = ("epochs", "lr", "batch_size", "optimizer", "seed")  # the TrainConfig fields the panel sets
SETTINGS = (*CONFIG_KNOBS, "hidden", "dropout", "train_subset")  # TrainingPanel's keywords besides model, data_dir
LR_MIN, LR_MAX = 1e-5, 1.0  # the ends of the learning-rate slider
ENDINGS = {"finished": ("Done.", "success"), "stopped": ("Stopped.", "warning"), "diverged": ("Diverged.", "danger"),
           "failed": ("Run failed.", "danger")}  # how a run ended -> (status line, colour of the progress bar)


def knob(widget_class, name: str, description: str, **options):
    """A labelled control with the CSS class ``mnist-panel-<name>`` that tests find it by."""
    if widget_class is w.Dropdown and "options" not in options:  # a batch or layer size: the value is always offered
        options["options"] = sorted({16, 32, 64, 128, 256, 512, 1024, options["value"]})
    if "Slider" in widget_class.__name__:  # wider, and acting when the handle is let go, not on every step
        options.update(continuous_update=False, layout={"width": "24em"})
    return widget_class(description=description, style={"description_width": "8.5em"},
                        **{"layout": {"width": "16em"}, **options}).add_class(f"mnist-panel-{name}")


class TrainingPanel(w.VBox):
    """Knobs, Train, Stop, live curves and a table of runs; after a run ``runs``, ``history`` and ``last_error``."""

    def __init__(self, model: str = "mlp", data_dir=None, **settings):
        if unknown := sorted(set(settings) - set(SETTINGS)):
            raise TypeError(f"TrainingPanel got unknown setting {', '.join(unknown)}; valid: {', '.join(SETTINGS)}")
        model = check_choice("model", model, RECIPES)
        config = RECIPES[model].config.replace(**{k: v for k, v in settings.items() if k in CONFIG_KNOBS})
        if not LR_MIN <= config.lr <= LR_MAX:  # TrainConfig checked the rest
            raise ValueError(f"lr must be between {LR_MIN:g} and {LR_MAX:g} (the slider's ends), got {config.lr:g}")
        given = {k: settings[k] for k in ("hidden", "dropout") if k in settings}  # checked here, not at Train
        hidden, dropout = build_model("mlp", **{**RECIPES["mlp"].hparams, **given}).hparams.values()
        train_subset = check_int("train_subset", settings.get("train_subset", 10_000), maximum=60_000 - VAL_SIZE)
        self.data_dir, self.runs, self._thread, self._stop_requested = data_dir, [], None, threading.Event()
        self.history = self.trained_model = self.last_error = None
        self.model_choice = knob(w.Dropdown, "model", "Model", options=list(RECIPES), value=model)
        self.batch_size = knob(w.Dropdown, "batch-size", "Batch size", value=config.batch_size)
        self.train_subset = knob(w.BoundedIntText, "subset", "Training images", value=train_subset, min=1,
                                 max=60_000 - VAL_SIZE, step=1000)
        self.seed = knob(w.BoundedIntText, "seed", "Seed", value=config.seed, min=0, max=2**31 - 1)
        self.epochs = knob(w.IntSlider, "epochs", "Epochs", value=config.epochs, min=1, max=max(30, config.epochs))
        self.lr = knob(w.FloatLogSlider, "lr", "Learning rate", value=config.lr, min=math.log10(LR_MIN),
                       max=math.log10(LR_MAX), step=0.25, readout_format=".2g")
        self.optimizer = knob(w.Dropdown, "optimizer", "Optimizer", options=["adam", "sgd"], value=config.optimizer)
        self.hidden1 = knob(w.Dropdown, "hidden1", "Hidden layer 1", value=hidden[0])
        self.hidden2 = knob(w.Dropdown, "hidden2", "Hidden layer 2", value=hidden[1])
        self.dropout = knob(w.FloatSlider, "dropout", "Dropout", value=dropout, max=max(0.8, dropout), step=0.05)
        self.mlp_box = w.HBox([w.VBox([self.hidden1, self.hidden2]), self.dropout]).add_class("mnist-panel-mlp-only")
        self.train_button = w.Button(description="Train", button_style="success").add_class("mnist-panel-train")
        self.stop_button = w.Button(description="Stop", button_style="danger", disabled=True)
        self.stop_button.add_class("mnist-panel-stop")
        self.progress = w.IntProgress(max=1, layout={"width": "20em"}).add_class("mnist-panel-progress")
        self.status = w.Label("Set the knobs, then click Train.").add_class("mnist-panel-status")
        self.error, self.summary = w.HTML().add_class("mnist-panel-error"), w.HTML().add_class("mnist-panel-summary")
        self.plot, self.runs_table = w.Output().add_class("mnist-panel-plot"), w.HTML().add_class("mnist-panel-runs")
        super().__init__([w.HBox([w.VBox([self.model_choice, self.batch_size, self.train_subset, self.seed]),
                                  w.VBox([self.epochs, self.lr, self.optimizer])]), self.mlp_box,
                          w.HBox([self.train_button, self.stop_button, self.progress, self.status]),
                          self.error, self.plot, self.summary, self.runs_table])
        self.add_class("mnist-panel")
        self.runs_table.value = runs_table_html([])
        self.mlp_box.layout.display = None if RECIPES[model].model == "mlp" else "none"
        self.model_choice.observe(lambda change: self._apply_recipe(change["new"]), "value")
        self.train_button.on_click(lambda _: self.train())
        self.stop_button.on_click(lambda _: self.stop())

    def _apply_recipe(self, name: str) -> None:
        """Start the knobs from the chosen model's recipe; hidden units and dropout only exist for the MLP."""
        recipe = RECIPES[name]
        for key in ("epochs", "lr", "batch_size", "optimizer"):
            getattr(self, key).value = getattr(recipe.config, key)
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
        s = self.settings()
        too_big = s["batch_size"] > s["train_subset"]
        self.error.value = error_html(f"Batch size {s['batch_size']} is larger than the training subset "
                                      f"({s['train_subset']} images)." if too_big else "")
        if too_big or self.running:
            return False
        self._stop_requested.clear()
        self.train_button.disabled, self.stop_button.disabled, self.progress.bar_style = True, False, "info"
        self._thread = threading.Thread(target=self._run, args=(s,), name="mnist-panel-training", daemon=True)
        self._thread.start()
        return self.wait() if block else True

    def stop(self) -> None:
        """Ask the run to end after the current batch (what Stop does)."""
        self._stop_requested.set()
        self.status.value = "Stopping after this batch…"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run (if any) has finished; False if ``timeout`` seconds passed first."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _run(self, s: dict) -> None:
        started, recipe, self.last_error = time.perf_counter(), RECIPES[s["model"]], None
        try:
            config = recipe.config.replace(**{k: s[k] for k in CONFIG_KNOBS})
            hparams = {"hidden": s["hidden"], "dropout": s["dropout"]} if s["hidden"] else recipe.hparams
            self.status.value, self.plot.outputs, self._epochs, self._batches = "Loading MNIST…", (), config.epochs, 0
            data = load_mnist(self.data_dir, normalize=recipe.normalize, val_size=VAL_SIZE,
                              train_subset=s["train_subset"], seed=s["seed"])
            self.progress.value, self.progress.max = 0, config.epochs * math.ceil(s["train_subset"] / config.batch_size)
            try:
                model, history = fit(recipe.model, data, config, hparams=hparams, progress=False,
                                     callback=self._after_epoch, should_stop=self._after_batch)
                ended = "stopped" if history.stopped_early else "finished"
            except TrainingDiverged as exc:
                model, history, ended, self.error.value = None, exc.history, "diverged", error_html(str(exc))
            self.history, self.trained_model = history, model
            test = evaluate(model, data.test) if model is not None and history.epochs else None  # 0 epochs: no test
            run = {**s, "run": len(self.runs) + 1, "epochs": history.epochs, "epochs_asked": s["epochs"],
                   "val_acc": history.val_acc[-1] if history.val_acc else None, "ended": ended,
                   "test_acc": None if test is None else test.accuracy, "test_images": test.count if test else 0,
                   "seconds": time.perf_counter() - started}
            self.runs.append(run)
            self.plot.outputs = (plot_output(history, title=f"Run {run['run']}"),)
            self.summary.value, self.runs_table.value = summary_html(run), runs_table_html(self.runs)
        except Exception as exc:  # noqa: BLE001  (a click must end in a message in the panel, not a lost traceback)
            self.last_error, ended, self.error.value = exc, "failed", error_html(f"{type(exc).__name__}: {exc}")
        self.status.value, self.progress.bar_style = ENDINGS[ended]
        self.train_button.disabled, self.stop_button.disabled = False, True

    def _after_batch(self) -> bool:  # asked by fit after every batch: True ends the run
        self._batches += 1
        if self._batches % 10 == 0 or self._batches == self.progress.max:  # a message per batch slows small models
            self.progress.value = self._batches
        return self._stop_requested.is_set()

    def _after_epoch(self, history) -> bool:
        self.history, self.plot.outputs = history, (plot_output(history),)
        self.status.value = f"Epoch {history.epochs}/{self._epochs} done: {percent(history.val_acc[-1])} on validation"
        return self._stop_requested.is_set()


# What the panel shows: the curves as PNG, the summary of a run, the table of runs, an error.
def plot_output(history, title: str = "") -> dict:
    """The curves as a Jupyter output for ``Output.outputs``: unlike ``with output:``, works from any thread."""
    draw_history(Figure(figsize=(9, 3.2), dpi=90), history, title).savefig(buffer := io.BytesIO(), format="png")
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"output_type": "display_data", "metadata": {}, "data": {"image/png": png, "text/plain": "<curves>"}}


def percent(fraction) -> str:
    return "–" if fraction is None else f"{100 * fraction:.2f} %"


def summary_html(run: dict) -> str:
    why = "the loss became NaN" if run["ended"] == "diverged" else "not one full epoch"
    result = (f"test accuracy <b>{percent(run['test_acc'])}</b> on {run['test_images']:,} test images"
              if run["test_acc"] is not None else f"no test accuracy ({why})")
    ended = {"stopped": " (stopped early)", "diverged": " (diverged)"}.get(run["ended"], "")
    return (f"<b>Run {run['run']}</b> ({run['model']}): {result}, after {run['epochs']} of "
            f"{run['epochs_asked']} epochs in {run['seconds']:.1f} s{ended}")


def runs_table_html(runs: list[dict]) -> str:
    """The runs of this session side by side; the best test accuracy in bold."""
    if not runs:
        return "<i>No runs yet: each run you make is added here to compare settings.</i>"
    best = max(r["test_acc"] or 0 for r in runs)
    rows = [{"Run": r["run"], "Model": r["model"], "Epochs": f"{r['epochs']}/{r['epochs_asked']}",
             "Batch": r["batch_size"], "Learning rate": f"{r['lr']:.2g}", "Optimizer": r["optimizer"],
             "Hidden": "–" if r["hidden"] is None else "-".join(map(str, r["hidden"])),
             "Dropout": "–" if r["dropout"] is None else f"{r['dropout']:.2f}",
             "Train images": f"{r['train_subset']:,}", "Seed": r["seed"], "Val acc": percent(r["val_acc"]),
             "Test acc": f"<b>{percent(best)}</b>" if r["test_acc"] == best else percent(r["test_acc"]),
             "Time": f"{r['seconds']:.1f} s", "Ended": r["ended"]} for r in runs]
    table = pd.DataFrame(rows).to_html(index=False, border=0, escape=False)  # escape=False: the bold; no user text
    return f"<style>.mnist-panel-runs :is(th, td) {{padding:0 6px;text-align:right;white-space:nowrap}}</style>{table}"


def error_html(message: str) -> str:
    return f"<span style='color:#c62828'>⚠ {html.escape(message)}</span>" if message else ""
