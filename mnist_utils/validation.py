"""Checks for values crossing the public boundary: each raises at once, naming the parameter, the value and the fix."""
import math
import numbers
from collections.abc import Iterable, Sequence
from operator import ge, gt, le, lt

BOUNDS = {"above": (gt, ">"), "at_least": (ge, ">="), "below": (lt, "<"), "at_most": (le, "<=")}


def _check_type(name: str, value, ok: bool, wanted: str, example) -> None:
    if not ok:
        raise TypeError(f"{name} must be {wanted}, got {value!r} ({type(value).__name__}); pass e.g. {name}={example}")


def _within(name: str, value, example, bounds: dict):
    for kind, bound in bounds.items():
        holds, sign = BOUNDS[kind]
        if bound is not None and not holds(value, bound):
            raise ValueError(f"{name} must be {sign} {bound}, got {value}; pass e.g. {name}={example}")
    return value


def check_bool(name: str, value, *, hint: str = "") -> bool:
    _check_type(name, value, isinstance(value, bool), "True or False", f"False{hint}")  # "False" would count as true
    return value


def check_float(name: str, value, *, example, **bounds) -> float:
    _check_type(name, value, isinstance(value, numbers.Real) and not isinstance(value, bool), "a number", example)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {float(value)}; pass e.g. {name}={example}")
    return _within(name, float(value), example, bounds)


def check_int(name: str, value, *, minimum: int = 1, maximum: int | None = None, example: int = 1) -> int:
    whole = isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer()
    _check_type(name, value, whole, "a whole number", example)  # 3.0 is accepted; "3" and True are not
    return _within(name, int(value), example, {"at_least": minimum, "at_most": maximum})


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    listed = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {listed}, got {value!r} ({type(value).__name__})")
    if value.lower() not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {listed}")
    return value.lower()


def check_sizes(name: str, value, count: int) -> tuple[int, ...]:
    """``count`` layer sizes, whole numbers >= 1, such as ``hidden=(256, 128)``."""
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be {count} whole numbers such as (256, 128), got {value!r}")
    if len(value) != count:
        raise ValueError(f"{name} must list exactly {('one', 'two', 'three')[count - 1]} sizes, got {list(value)}")
    return tuple(check_int(f"{name}[{i}]", v, minimum=1, example=128) for i, v in enumerate(value))
