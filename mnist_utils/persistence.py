"""Saving and loading models: a state dict, its JSON card and the whole pickled module, each written
atomically. Loading reads the state dict safely (weights only) and rebuilds the model from its card.
"""

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .atomic import atomic_path
from .models import build_model

FULL_FILE = "mnist_model_full.pth"
STATE_FILE = "mnist_model_state.pth"
CARD_FILE = "mnist_model.json"
NO_CARD = {"arch": None, "hparams": {}, "normalize": "mnist", "metrics": {}}


class UntrustedCheckpointError(ValueError):
    """The file holds pickled Python objects, which could run code when loaded."""


@dataclass
class Checkpoint:
    model: nn.Module
    arch: str
    hparams: dict
    normalize: str = "mnist"
    metrics: dict = field(default_factory=dict)


def save_model(model: nn.Module, folder=".", *, normalize="mnist", metrics: dict | None = None):
    """Write the state file, its card and the whole-model file into ``folder``.

    Returns the paths of the whole-model file and the state file.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if getattr(model, "arch", None) is None:
        raise ValueError(
            "model has no .arch name for load_model to rebuild it; "
            "make it with mnist_utils.build_model"
        )
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(
            f"folder {str(folder)!r} is a file; pass a folder to save the model in"
        )
    card = {
        "arch": model.arch,
        "hparams": dict(getattr(model, "hparams", {})),
        "normalize": normalize,
        "metrics": dict(metrics or {}),
    }
    card_text = json.dumps(
        card, indent=2, default=list
    )  # a bad metric fails before any file is written
    weights = {}
    for name, tensor in model.state_dict().items():
        weights[name] = tensor.detach().cpu()
    # first the weights, then their card, then the whole model
    with atomic_path(folder / STATE_FILE) as tmp:
        torch.save(weights, tmp)
    with atomic_path(folder / CARD_FILE) as tmp:
        tmp.write_text(card_text + "\n", encoding="utf-8")
    with atomic_path(folder / FULL_FILE) as tmp:
        torch.save(model, tmp)
    return folder / FULL_FILE, folder / STATE_FILE


def holds_pickled_objects(path: Path, exc: Exception) -> bool:
    """Whether weights-only loading failed on pickled objects: a class or function reference, or a
    raw pickle stream (which starts with the PROTO opcode 0x80)."""
    if not isinstance(exc, pickle.UnpicklingError):
        return False
    with open(path, "rb") as f:
        first_byte = f.read(1)
    return "Unsupported global" in str(exc) or first_byte == b"\x80"


def torch_load(path: Path, *, trusted: bool = False):
    """``torch.load`` to the CPU, refusing pickled objects unless ``trusted``; damage is a
    ValueError."""
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {str(path)!r} does not exist; pass a file or folder from save_model"
        )
    try:
        return torch.load(
            path, map_location="cpu", weights_only=not trusted
        )  # weights_only runs no code
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        if not trusted and holds_pickled_objects(path, exc):
            raise UntrustedCheckpointError(
                f"checkpoint {str(path)!r} holds pickled Python objects, so loading it could "
                f"run code from the file. Load {STATE_FILE} instead, or "
                "load_full_model(path, trusted=True) only for a file you made"
            ) from None
        raise ValueError(
            f"checkpoint {str(path)!r} is not a readable PyTorch file (truncated or corrupt: "
            f"{type(exc).__name__}); save the model again or use another copy"
        ) from None


def is_state_dict(saved) -> bool:
    if not isinstance(saved, dict) or not saved:
        return False
    return all(isinstance(value, torch.Tensor) for value in saved.values())


def read_card(card_path: Path) -> dict:
    """The model card beside a state file: its arch, hparams, normalization and metrics."""
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
        return {
            "arch": str(card["arch"]),
            "hparams": dict(card.get("hparams", {})),
            "normalize": card.get("normalize", "mnist"),
            "metrics": dict(card.get("metrics", {})),
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError(
            f"{str(card_path)!r} is not a model card written by save_model; delete it and pass "
            "model='mlp' or 'cnn' to load the weights, or save the model again"
        ) from None


def read_state_file(path: Path) -> tuple[dict, dict]:
    """A state file's weights and its card (the card's arch is None when there is no card)."""
    saved = torch_load(path)
    if isinstance(saved, dict) and saved.get("format") == "mnist_utils.state/1":
        # release 0.1 kept the card inside the file
        card = {}
        for key in ("arch", "hparams", "normalize", "metrics"):
            card[key] = saved[key]
        return saved["state_dict"], card
    if not is_state_dict(saved):
        raise ValueError(
            f"checkpoint {str(path)!r} is not a state dict; "
            f"pass the {STATE_FILE} written by save_model"
        )
    if path.name == STATE_FILE:
        card_path = path.with_name(CARD_FILE)
    else:
        card_path = path.with_suffix(".json")
    if not card_path.is_file():
        return saved, dict(NO_CARD)
    return saved, read_card(card_path)


def load_checkpoint(path, *, model: nn.Module | str | None = None) -> Checkpoint:
    """Load a state file safely (weights only) and rebuild its model from its card.

    ``path`` may be the folder that holds the state file. A ``model`` given (a name or a module)
    must match the card; without a card, it says what to build.
    """
    path = Path(path)
    if path.is_dir():
        path = path / STATE_FILE
    weights, card = read_state_file(path)
    if card["arch"] is None and model is None:
        raise ValueError(
            f"checkpoint {str(path)!r} has no {CARD_FILE} beside it; "
            "pass model='mlp' or 'cnn' to load it"
        )
    asked = model if isinstance(model, str) else getattr(model, "arch", None)
    if card["arch"] is not None and asked is not None and asked.lower() != card["arch"]:
        raise ValueError(
            f"checkpoint {str(path)!r} holds a {card['arch']!r} model, not {asked!r}; "
            "leave model unset"
        )
    if not isinstance(model, nn.Module):
        model = build_model(model or card["arch"], **card["hparams"])
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise ValueError(
            f"checkpoint {str(path)!r} does not fit this model ({str(exc).splitlines()[0]}); leave "
            "model unset to rebuild the architecture stored with it"
        ) from None
    return Checkpoint(
        model=model.eval(),
        arch=getattr(model, "arch", card["arch"]),
        hparams=getattr(model, "hparams", card["hparams"]),
        normalize=card["normalize"],
        metrics=dict(card["metrics"]),
    )


def load_full_model(path, *, trusted: bool = False) -> nn.Module:
    """Load a whole pickled model (``FULL_FILE``); only with ``trusted=True``, as unpickling can run
    code."""
    path = Path(path)
    if path.is_dir():
        path = path / FULL_FILE
    if (
        trusted is not True and path.is_file()
    ):  # a missing file is reported as missing by torch_load
        raise UntrustedCheckpointError(
            f"refusing to unpickle {str(path)!r}: it could run any code. Load {STATE_FILE} with "
            "load_model() instead, or pass trusted=True only for a file you made"
        )
    model = torch_load(path, trusted=trusted is True)
    if not isinstance(model, nn.Module):
        kind = type(model).__name__
        raise ValueError(f"{str(path)!r} holds a {kind}, not a whole model")  # noqa: TRY004
    return model.eval()


def load_model(path, *, model: nn.Module | str | None = None) -> nn.Module:
    """The model of a state file (or of the folder holding it), rebuilt from its card and loaded
    safely."""
    return load_checkpoint(path, model=model).model
