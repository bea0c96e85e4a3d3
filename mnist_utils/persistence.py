"""Saving and loading models in the two files this project has always written.

* ``mnist_model_state.pth``: the weights (a state dict) plus the model's name, hyperparameters and
  input normalization. Loaded with ``torch.load(weights_only=True)``, which cannot run code.
* ``mnist_model_full.pth``: the whole pickled module. Unpickling can run arbitrary code, so it is only
  loaded when the caller says ``trusted=True``.

Both are written atomically (temporary file + rename).
"""
from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .atomic import atomic_path
from .models import build_model

FULL_FILE = "mnist_model_full.pth"
STATE_FILE = "mnist_model_state.pth"
STATE_FORMAT = "mnist_utils.state/1"


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
    """Write ``mnist_model_full.pth`` and ``mnist_model_state.pth`` into ``folder``; return both paths."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    arch = getattr(model, "arch", None)
    if arch is None:
        raise ValueError("model has no .arch name, so the state file could not rebuild it; "
                         "make it with mnist_utils.build_model(name, ...)")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"folder {str(folder)!r} is a file; pass a folder to save the two model files in")
    state = {
        "format": STATE_FORMAT,
        "arch": arch,
        "hparams": dict(getattr(model, "hparams", {})),
        "normalize": normalize,
        "metrics": dict(metrics or {}),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    full_path, state_path = folder / FULL_FILE, folder / STATE_FILE
    with atomic_path(state_path) as tmp:
        torch.save(state, tmp)
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


def _rebuild(path: Path, state, model) -> Checkpoint:
    if isinstance(state, dict) and state.get("format") == STATE_FORMAT:
        arch, hparams, weights = state["arch"], dict(state["hparams"]), state["state_dict"]
    elif isinstance(state, dict) and state and all(isinstance(v, torch.Tensor) for v in state.values()):
        if model is None:
            raise ValueError(f"checkpoint {str(path)!r} is a bare state dict without the model's name; "
                             "pass model='mlp' or 'cnn' (or a built model) to load it into")
        arch, hparams, weights = None, {}, state
    else:
        raise ValueError(f"checkpoint {str(path)!r} is not an mnist_utils state file; "
                         f"pass the {STATE_FILE} written by save_model")
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
                         "leave model unset to rebuild the architecture stored in the file") from None
    meta = {"normalize": state.get("normalize", "mnist"), "metrics": dict(state.get("metrics", {}))} \
        if arch is not None else {}
    return Checkpoint(model=model, arch=getattr(model, "arch", arch), hparams=hparams, **meta)


def load_checkpoint(path, *, model: nn.Module | str | None = None) -> Checkpoint:
    """Load a state file safely (``weights_only=True``) and rebuild its model.

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
