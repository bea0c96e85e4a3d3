"""Checks for values that cross the public boundary (notebooks, CLI, widgets, papermill). Each raises before any
work starts, naming the parameter, the bad value and the fix: ``TypeError`` for a wrong type, ``ValueError`` for
a value out of range.
"""
from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Iterable, Sequence

BOUNDS = {"above": (operator.gt, ">"), "at_least": (operator.ge, ">="), "below": (operator.lt, "<"),
          "at_most": (operator.le, "<=")}


def _wrong_type(name: str, value, wanted: str, example) -> TypeError:
    return TypeError(f"{name} must be {wanted}, got {value!r} ({type(value).__name__}); pass e.g. {name}={example}")


def check_bool(name: str, value, *, hint: str = "") -> bool:
    """``value`` if it is True or False. Strings are refused: ``"False"`` would count as true."""
    if not isinstance(value, bool):
        raise _wrong_type(name, value, "True or False", f"False{hint}")
    return value


def check_float(name: str, value, *, example, **bounds) -> float:
    """``value`` as a finite float within ``bounds`` (``above=``, ``at_least=``, ``below=``, ``at_most=``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _wrong_type(name, value, "a number", example)
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}; pass e.g. {name}={example}")
    return _within(name, value, example, bounds)


def _within(name: str, value, example, bounds: dict):
    for kind, bound in bounds.items():
        holds, sign = BOUNDS[kind]
        if bound is not None and not holds(value, bound):
            raise ValueError(f"{name} must be {sign} {bound}, got {value}; pass e.g. {name}={example}")
    return value


def check_int(name: str, value, *, minimum: int = 1, maximum: int | None = None, example: int | None = None) -> int:
    """``value`` as an int in [minimum, maximum]; whole floats such as 3.0 are accepted."""
    example = minimum if example is None else example
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not float(value).is_integer():
        raise _wrong_type(name, value, "a whole number", example)
    return _within(name, int(value), example, {"at_least": minimum, "at_most": maximum})


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    """``value`` lower-cased if it is one of ``choices``."""
    listed = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {listed}, got {value!r} ({type(value).__name__})")
    if value.lower() not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {listed}")
    return value.lower()


def check_sizes(name: str, value, count: int) -> tuple[int, ...]:
    """``count`` layer sizes, whole numbers >= 1, such as ``hidden=(256, 128)``; text "256 128" is read too."""
    text = value.replace(",", " ").split() if isinstance(value, str) else []
    value = [int(p) for p in text] if text and all(p.isdigit() for p in text) else value
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be {count} whole numbers such as (256, 128), got {value!r}")
    if len(value) != count:
        raise ValueError(f"{name} must list exactly {('one', 'two', 'three')[count - 1]} layer size(s), got {list(value)}")
    return tuple(check_int(f"{name}[{i}]", v, minimum=1, example=128) for i, v in enumerate(value))
