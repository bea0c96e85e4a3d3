"""The training panel of notebooks 02 and 03: ``from mnist_utils.widgets import TrainingPanel``.

``panel.py`` holds the ipywidgets panel; ``views.py`` the HTML and PNG it shows, free of ipywidgets.
"""
from .panel import TrainingPanel

__all__ = ["TrainingPanel"]
