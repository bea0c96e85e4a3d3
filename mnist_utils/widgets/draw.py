"""A drawing pad (ipycanvas): draw a digit; see the 28x28 image the model gets, the digit it reads, each probability."""
import io

import ipywidgets as widgets
from ipycanvas import Canvas
from PIL import Image

from ..data import normalize_images
from ..evaluate import UNSURE, predict
from ..images import prepare_digit
from ..persistence import load_checkpoint

SIZE, PEN = 280, 20  # the pad and the pen, in screen pixels


class DrawingPad(widgets.HBox):
    """``checkpoint``: a saved model's folder or state file (default: the ``robust`` recipe's), or a Checkpoint."""

    def __init__(self, checkpoint="runs/robust"):
        self.saved = checkpoint if hasattr(checkpoint, "model") else load_checkpoint(checkpoint)
        self.canvas = Canvas(width=SIZE, height=SIZE, layout=widgets.Layout(border="1px solid #888"))
        self.canvas.line_width, self.canvas.line_cap, self.canvas.fill_style = PEN, "round", "white"
        self.canvas.on_mouse_down(lambda x, y: self.strokes.append([(x, y)]))
        self.canvas.on_mouse_move(self._move)
        for pen_lifted in (self.canvas.on_mouse_up, self.canvas.on_mouse_out):
            pen_lifted(self._lift)
        self.button = widgets.Button(description="Clear", icon="eraser")
        self.button.on_click(self.clear)
        self.seen, self.answer, self.bars = widgets.Image(format="png", width=112), widgets.HTML(), widgets.HTML()
        for name in ("canvas", "button", "seen", "answer", "bars"):
            getattr(self, name).add_class(f"mnist-draw-{name}")
        super().__init__([widgets.VBox([self.canvas, self.button]), widgets.VBox([self.answer, self.seen, self.bars])])
        self.clear()

    def _move(self, x: float, y: float) -> None:
        if self.strokes and self.strokes[-1]:  # pen down (None marks a lifted pen): draw the segment
            self.canvas.stroke_line(*self.strokes[-1][-1], x, y)
            self.strokes[-1].append((x, y))

    def _lift(self, *_) -> None:
        if self.strokes and self.strokes[-1]:
            self.strokes.append(None)
            self.show()

    def clear(self, _button=None) -> None:
        self.canvas.fill_rect(0, 0, SIZE, SIZE)  # white: the pen draws black
        self.strokes, self.answer.value, self.bars.value, self.seen.value = [], "Draw a digit with the mouse.", "", b""
        self.seen.layout.visibility = "hidden"  # an empty image would show as a broken-image icon

    def show(self) -> None:
        pixels = prepare_digit([s for s in self.strokes if s], name="the pad", size=SIZE, width=PEN)  # never blank
        Image.fromarray((pixels[0].numpy() * 255).astype("uint8")).resize((112, 112)).save(png := io.BytesIO(), "png")
        _, probs = predict(self.saved.model, normalize_images(pixels[None], self.saved.normalize),
                           temperature=self.saved.metrics.get("temperature", 1.0))
        top, digit = probs[0].max(0)
        unsure = ", unsure" if top < UNSURE else ""
        self.seen.value, self.answer.value = png.getvalue(), f"<b>Read: {digit}</b> ({100 * top:.0f} %{unsure})"
        self.seen.layout.visibility = "visible"
        self.bars.value = "".join(f"<div>{d} <span style='border-left:{150 * p:.0f}px solid #4c72b0'></span> "
                                  f"{100 * p:.1f} %</div>" for d, p in enumerate(probs[0]))  # a bar per digit
