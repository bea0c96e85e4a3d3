"""Saving and loading models in the two files this project has always written, plus a small card.

* ``mnist_model_state.pth``: a plain state dict, the weights only. Load it as every PyTorch tutorial does:
  ``model = build_model("cnn"); model.load_state_dict(torch.load(path, weights_only=True))``.
* ``mnist_model.json``: beside it, what is needed to rebuild the model without being told (its name,
  hyperparameters, input normalization) and its metrics. ``load_model(path)`` reads both.
* ``mnist_model_full.pth``: the whole pickled module. Unpickling can run arbitrary code, so it is only
  loaded when the caller says ``trusted=True``.

Each file is written atomically (temporary file + rename). Files written before the card existed (one
``.pth`` holding a dict with ``format``, ``arch``, ``hparams``, ``state_dict``...) still load.
"""
from __future__ import annotations

import json
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .atomic import atomic_path, write_text
from .models import build_model

FULL_FILE = "mnist_model_full.pth"
STATE_FILE = "mnist_model_state.pth"
CARD_FILE = "mnist_model.json"
OLD_STATE_FORMAT = "mnist_utils.state/1"  # one .pth with the weights and the card inside (release 0.1)


class UntrustedCheckpointError(ValueError):
    """The file holds pickled Python objects, which could run code when loaded."""


@dataclass
class Checkpoint:
    model: nn.Module
    arch: str
    hparams: dict
    normalize: str = "mnist"
    metrics: dict = field(default_factory=dict)


def save_model(model: nn.Module, folder=".", *, normalize: str = "mnist", metrics: dict | None = None
               ) -> tuple[Path, Path]:
    """Write ``mnist_model_state.pth``, ``mnist_model.json`` and ``mnist_model_full.pth`` into ``folder``.

    Returns the paths of the whole-model file and the state file.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    arch = getattr(model, "arch", None)
    if arch is None:
        raise ValueError("model has no .arch name, so load_model could not rebuild it; "
                         "make it with mnist_utils.build_model(name, ...)")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"folder {str(folder)!r} is a file; pass a folder to save the model files in")
    card = {"arch": arch, "hparams": dict(getattr(model, "hparams", {})), "normalize": normalize,
            "metrics": dict(metrics or {})}
    card_text = json.dumps(card, indent=2, default=list)  # fails here, before any file is touched
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    full_path, state_path = folder / FULL_FILE, folder / STATE_FILE
    with atomic_path(state_path) as tmp:
        torch.save(state, tmp)
    write_text(folder / CARD_FILE, card_text + "\n")
    with atomic_path(full_path) as tmp:
        torch.save(model, tmp)
    return full_path, state_path


def _resolve(path) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist; pass the path of "
                                f"{STATE_FILE} written by save_model or `python -m mnist_utils train`")
    return path


def _unreadable(path: Path, exc: Exception) -> ValueError:
    return ValueError(f"checkpoint {str(path)!r} is not a readable PyTorch file (truncated or corrupt: "
                      f"{type(exc).__name__}); save the model again or use another copy")


def _first_byte(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(1)


def _load_weights_only(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # a class or function reference, or a raw pickle stream (PROTO opcode 0x80): Python objects
        if "Unsupported global" in str(exc) or _first_byte(path) == b"\x80":
            raise UntrustedCheckpointError(
                f"checkpoint {str(path)!r} holds pickled Python objects (for example a whole model saved "
                f"with torch.save(model)); loading it could run code from the file. Load {STATE_FILE} "
                "instead, or pass trusted=True only for a file you made yourself") from None
        raise _unreadable(path, exc) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise _unreadable(path, exc) from None


def _read_card(path: Path) -> dict | None:
    """The card of a state file: ``mnist_model.json`` beside ``mnist_model_state.pth`` (``NAME.json`` beside
    ``NAME.pth`` for a renamed pair), or None when there is none."""
    card_path = path.with_name(CARD_FILE) if path.name == STATE_FILE else path.with_suffix(".json")
    if not card_path.is_file():
        return None
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
        return {"arch": str(card["arch"]), "hparams": dict(card.get("hparams", {})),
                "normalize": card.get("normalize", "mnist"), "metrics": dict(card.get("metrics", {}))}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError(f"{str(card_path)!r} is not a model card written by save_model; delete it and pass "
                         "model='mlp' or 'cnn' to load the weights, or save the model again") from None


def _rebuild(path: Path, state, model) -> Checkpoint:
    if isinstance(state, dict) and state.get("format") == OLD_STATE_FORMAT:
        card, weights = {k: state[k] for k in ("arch", "hparams", "normalize", "metrics")}, state["state_dict"]
    elif isinstance(state, dict) and state and all(isinstance(v, torch.Tensor) for v in state.values()):
        card, weights = _read_card(path), state
    else:
        raise ValueError(f"checkpoint {str(path)!r} is not a state dict; pass the {STATE_FILE} written by "
                         "save_model or `python -m mnist_utils train`")
    arch = card["arch"] if card else None
    if card is None and model is None:
        raise ValueError(f"checkpoint {str(path)!r} is a bare state dict with no {CARD_FILE} beside it to say "
                         "which model it is; pass model='mlp' or 'cnn' (or a built model) to load it into")
    hparams = dict(card["hparams"]) if card else {}
    if isinstance(model, str):
        if arch is not None and model.lower() != arch:
            raise ValueError(f"checkpoint {str(path)!r} holds a {arch!r} model, not {model!r}; "
                             f"pass model={arch!r} or leave model unset")
        model = build_model(model, **hparams)
    elif model is None:
        model = build_model(arch, **hparams)
    elif arch is not None and getattr(model, "arch", arch) != arch:
        raise ValueError(f"checkpoint {str(path)!r} holds a {arch!r} model, but the model given is "
                         f"{model.arch!r}; build a {arch!r} model or leave model unset")
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ValueError(f"checkpoint {str(path)!r} does not fit this model's architecture ({first}); "
                         "leave model unset to rebuild the architecture stored with it") from None
    meta = {"normalize": card["normalize"], "metrics": dict(card["metrics"])} if card else {}
    return Checkpoint(model=model, arch=getattr(model, "arch", arch), hparams=getattr(model, "hparams", hparams),
                      **meta)


def load_checkpoint(path, *, model: nn.Module | str | None = None) -> Checkpoint:
    """Load a state file safely (``weights_only=True``) and rebuild its model from the card beside it.

    ``model`` optionally names the architecture you expect (or gives a built module); a mismatch is an error.
    """
    path = _resolve(path)
    checkpoint = _rebuild(path, _load_weights_only(path), model)
    checkpoint.model.eval()
    return checkpoint


def load_full_model(path, *, trusted: bool = False) -> nn.Module:
    """Load ``mnist_model_full.pth``: a whole pickled model. Needs ``trusted=True`` (unpickling runs code)."""
    path = Path(path)
    if path.is_dir():
        path = path / FULL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist; pass the path of {FULL_FILE}")
    if trusted is not True:
        raise UntrustedCheckpointError(
            f"refusing to unpickle {str(path)!r}: a whole-model file can run any code when loaded. "
            f"Load {STATE_FILE} with load_model() instead, or pass trusted=True only for a file you made yourself")
    try:
        model = torch.load(path, map_location="cpu", weights_only=False)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile) as exc:
        raise _unreadable(path, exc) from None
    if not isinstance(model, nn.Module):
        raise ValueError(f"{str(path)!r} holds a {type(model).__name__}, not a whole model")
    return model.eval()


def load_model(path, *, model: nn.Module | str | None = None, trusted: bool = False) -> nn.Module:
    """Load a model from a state file (safe) or, with ``trusted=True``, from a whole-model file."""
    try:
        return load_checkpoint(path, model=model).model
    except UntrustedCheckpointError:
        if trusted is not True:
            raise
        return load_full_model(path, trusted=True)
