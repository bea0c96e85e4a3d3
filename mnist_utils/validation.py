"""Checks for values that cross the public boundary (notebooks, CLI, widgets, papermill).

Every check raises before any work starts, with a message that names the parameter, the bad value
and the fix. Type mistakes raise ``TypeError``, out-of-range values ``ValueError``.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence


def _show(value) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_bool(name: str, value, *, hint: str = "") -> bool:
    """Return ``value`` if it is True or False. Strings are refused: ``"False"`` would count as true."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {_show(value)}; pass e.g. {name}=False{hint}")
    return value


def check_int(name: str, value, *, minimum: int = 1, maximum: int | None = None, example: int | None = None) -> int:
    """Return ``value`` as an int in [minimum, maximum]; whole floats such as 3.0 are accepted."""
    example = minimum if example is None else example
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a whole number, got {_show(value)}; pass e.g. {name}={example}")
    if isinstance(value, numbers.Integral) or math.isfinite(value) and float(value).is_integer():
        value = int(value)
    else:
        raise TypeError(f"{name} must be a whole number, got {_show(value)}; pass e.g. {name}={example}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}; pass e.g. {name}={example}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}; pass a value up to {maximum}")
    return value


def check_float(
    name: str,
    value,
    *,
    above: float | None = None,
    at_least: float | None = None,
    below: float | None = None,
    at_most: float | None = None,
    example: float,
) -> float:
    """Return ``value`` as a finite float within the given open/closed bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {_show(value)}; pass e.g. {name}={example}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}; pass e.g. {name}={example}")
    bounds = [
        (above, lambda v, b: v > b, "> {}"),
        (at_least, lambda v, b: v >= b, ">= {}"),
        (below, lambda v, b: v < b, "< {}"),
        (at_most, lambda v, b: v <= b, "<= {}"),
    ]
    for bound, ok, text in bounds:
        if bound is not None and not ok(value, bound):
            raise ValueError(f"{name} must be {text.format(bound)}, got {value}; pass e.g. {name}={example}")
    return value


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    """Return ``value`` lower-cased if it is one of ``choices``."""
    choices = list(choices)
    listed = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {listed}, got {_show(value)}")
    if value.lower() not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {listed}")
    return value.lower()


def check_sizes(name: str, value, count: int) -> tuple[int, ...]:
    """``count`` layer sizes, whole numbers >= 1, such as ``hidden=(256, 128)``; a string "256 128" is read too."""
    if isinstance(value, str):
        try:
            value = [int(p) for p in value.replace(",", " ").split()]
        except ValueError:
            raise TypeError(f"{name} must be {count} whole numbers such as (256, 128), got {value!r}") from None
    if not isinstance(value, Sequence) or isinstance(value, (bytes, bytearray)):
        raise TypeError(f"{name} must be {count} whole numbers such as (256, 128), got {_show(value)}")
    if len(value) != count:
        raise ValueError(f"{name} must list exactly {('one', 'two', 'three')[count - 1]} layer size(s), got {list(value)!r}")
    return tuple(check_int(f"{name}[{i}]", v, minimum=1, example=128) for i, v in enumerate(value))
