"""Checks for values crossing the public boundary.

Each raises at once, naming the parameter, the value and the fix: ``epochs must be >= 1, got 0; pass
e.g. epochs=10``.
"""

import math
import numbers
from collections.abc import Iterable, Sequence
from operator import ge, gt, le, lt

# bound keyword -> (the test a value must pass, the sign the message shows)
BOUNDS = {"above": (gt, ">"), "at_least": (ge, ">="), "below": (lt, "<"), "at_most": (le, "<=")}
COUNT_WORDS = {1: "one", 2: "two", 3: "three"}


def check_type(name: str, value, ok: bool, wanted: str, example) -> None:
    if not ok:
        raise TypeError(
            f"{name} must be {wanted}, got {value!r} ({type(value).__name__}); "
            f"pass e.g. {name}={example}"
        )


def check_bounds(name: str, value, example, bounds: dict):
    """``value`` itself, when it passes every bound (a bound of None is no bound)."""
    for kind, bound in bounds.items():
        passes, sign = BOUNDS[kind]
        if bound is not None and not passes(value, bound):
            raise ValueError(
                f"{name} must be {sign} {bound}, got {value}; pass e.g. {name}={example}"
            )
    return value


def check_bool(name: str, value, *, hint: str = "") -> bool:
    # isinstance, not truth: the string "False" would count as true
    check_type(name, value, isinstance(value, bool), "True or False", f"False{hint}")
    return value


def is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_float(name: str, value, *, example, **bounds) -> float:
    check_type(name, value, is_number(value), "a number", example)
    if not math.isfinite(value):
        raise ValueError(
            f"{name} must be a finite number, got {float(value)}; pass e.g. {name}={example}"
        )
    return check_bounds(name, float(value), example, bounds)


def check_int(
    name: str, value, *, minimum: int = 1, maximum: int | None = None, example: int = 1
) -> int:
    # 3.0 is accepted; "3" and True are not
    whole = is_number(value) and float(value).is_integer()
    check_type(name, value, whole, "a whole number", example)
    return check_bounds(name, int(value), example, {"at_least": minimum, "at_most": maximum})


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    """``value`` in lower case, when it is one of ``choices``."""
    listed = ", ".join(repr(choice) for choice in choices)
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
        raise ValueError(f"{name} must list exactly {COUNT_WORDS[count]} sizes, got {list(value)}")
    sizes = []
    for index, size in enumerate(value):
        sizes.append(check_int(f"{name}[{index}]", size, minimum=1, example=128))
    return tuple(sizes)
