"""The training panel of notebooks 02 and 03 (``panel.py``) and the drawing pad of notebook 06
(``draw.py``)."""

from .panel import TrainingPanel

__all__ = ["TrainingPanel"]
