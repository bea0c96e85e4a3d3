"""The training panel of notebooks 02 and 03 (``panel.py``) and the HTML and PNG it shows (``views.py``)."""
from .panel import TrainingPanel

__all__ = ["TrainingPanel"]
