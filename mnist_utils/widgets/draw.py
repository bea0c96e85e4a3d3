"""A drawing pad (ipycanvas): draw a digit with the mouse; see the 28x28 image the model gets, the
digit it reads and each digit's probability."""

import io

import ipywidgets as widgets
from ipycanvas import Canvas
from PIL import Image

from ..data import normalize_images
from ..evaluate import UNSURE, predict
from ..images import prepare_digit
from ..persistence import load_checkpoint

PAD_SIZE = 280  # the pad, in screen pixels
PEN_WIDTH = 20


def probability_bars(probs) -> str:
    """A horizontal bar per digit, as long as its probability."""
    rows = []
    for digit, probability in enumerate(probs.tolist()):
        bar = f"<span style='border-left:{150 * probability:.0f}px solid #4c72b0'></span>"
        rows.append(f"<div>{digit} {bar} {100 * probability:.1f} %</div>")
    return "".join(rows)


def png_bytes(pixels, side: int) -> bytes:
    """A [1, 28, 28] image in [0, 1] as a PNG ``side`` pixels square."""
    image = Image.fromarray((pixels[0].numpy() * 255).astype("uint8")).resize((side, side))
    buffer = io.BytesIO()
    image.save(buffer, "png")
    return buffer.getvalue()


class DrawingPad(widgets.HBox):
    """``checkpoint``: a saved model's folder or state file (default: the ``robust`` recipe's), or a
    Checkpoint."""

    def __init__(self, checkpoint="runs/robust"):
        if hasattr(checkpoint, "model"):
            self.saved = checkpoint
        else:
            self.saved = load_checkpoint(checkpoint)
        self.strokes = []  # each a list of (x, y) points; None marks where the pen was lifted
        self.canvas = Canvas(
            width=PAD_SIZE, height=PAD_SIZE, layout=widgets.Layout(border="1px solid #888")
        )
        self.canvas.line_width = PEN_WIDTH
        self.canvas.line_cap = "round"
        self.canvas.fill_style = "white"
        self.canvas.on_mouse_down(self.pen_down)
        self.canvas.on_mouse_move(self.pen_moved)
        self.canvas.on_mouse_up(self.pen_lifted)
        self.canvas.on_mouse_out(self.pen_lifted)
        self.button = widgets.Button(description="Clear", icon="eraser")
        self.button.on_click(self.clear)
        self.seen = widgets.Image(format="png", width=112)
        self.answer = widgets.HTML()
        self.bars = widgets.HTML()
        for name in ("canvas", "button", "seen", "answer", "bars"):
            getattr(self, name).add_class(f"mnist-draw-{name}")
        drawing = widgets.VBox([self.canvas, self.button])
        reading = widgets.VBox([self.answer, self.seen, self.bars])
        super().__init__([drawing, reading])
        self.clear()

    def pen_down(self, x: float, y: float) -> None:
        self.strokes.append([(x, y)])

    def pen_moved(self, x: float, y: float) -> None:
        if self.strokes and self.strokes[-1]:  # the pen is down: draw the segment
            last_x, last_y = self.strokes[-1][-1]
            self.canvas.stroke_line(last_x, last_y, x, y)
            self.strokes[-1].append((x, y))

    def pen_lifted(self, *_) -> None:
        if self.strokes and self.strokes[-1]:
            self.strokes.append(None)
            self.show()

    def clear(self, _button=None) -> None:
        self.canvas.fill_rect(0, 0, PAD_SIZE, PAD_SIZE)  # white: the pen draws black
        self.strokes = []
        self.answer.value = "Draw a digit with the mouse."
        self.bars.value = ""
        self.seen.value = b""
        self.seen.layout.visibility = "hidden"  # an empty image would show as a broken-image icon

    def show(self) -> None:
        """Read the digit drawn so far, and show what the model saw and its answer."""
        strokes = [stroke for stroke in self.strokes if stroke]
        pixels = prepare_digit(strokes, name="the pad", size=PAD_SIZE, width=PEN_WIDTH)
        temperature = self.saved.metrics.get("temperature", 1.0)
        model_input = normalize_images(pixels[None], self.saved.normalize)
        _, probs = predict(self.saved.model, model_input, temperature=temperature)
        top, digit = probs[0].max(0)
        unsure = ", unsure" if top < UNSURE else ""
        self.seen.value = png_bytes(pixels, 112)
        self.answer.value = f"<b>Read: {digit}</b> ({100 * top:.0f} %{unsure})"
        self.seen.layout.visibility = "visible"
        self.bars.value = probability_bars(probs[0])
