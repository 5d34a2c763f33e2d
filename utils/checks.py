"""Argument checks shared by the helpers: ``bool`` and floats such as ``8.0`` are not integers, and
numbers and arrays of numbers are finite."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["MAX_INT32", "ArgumentTypeError", "check_finite", "check_int", "check_number", "is_int"]

#: The largest integer :func:`check_int` accepts without an explicit ``maximum``: TensorFlow sizes
#: and lengths are int32.
MAX_INT32 = 2**31 - 1


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type; both a ``TypeError`` and a ``ValueError``."""


def is_int(value) -> bool:
    """True for a Python or NumPy integer, False for ``bool``, floats and everything else."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(value, name: str, minimum: int | None = 1, maximum: int | None = None, *,
              or_none: bool = False) -> int:
    """Return ``value`` as a Python ``int`` if it is an integer in ``[minimum, maximum]``.

    Args:
        value: the argument to check.
        name: the argument's name, for the message.
        minimum: inclusive lower bound, or ``None``.
        maximum: inclusive upper bound, or ``None``: at most :data:`MAX_INT32`.
        or_none: say in the message that ``None`` is allowed too (the caller handles ``None``).

    Raises:
        ArgumentTypeError: ``value`` is not an integer.
        ValueError: ``value`` is outside the bounds.
    """
    if minimum is not None and maximum is not None:
        allowed = f"an int in [{minimum}, {maximum}]"
    elif minimum is not None:
        allowed = f"an int >= {minimum}"
    elif maximum is not None:
        allowed = f"an int <= {maximum}"
    else:
        allowed = "an int"
    if or_none:
        allowed += " or None"
    if not is_int(value):
        raise ArgumentTypeError(f"{name} must be {allowed}, got {value!r} ({type(value).__name__})")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    if maximum is None and value > MAX_INT32:
        raise ValueError(f"{name} must be {allowed} and at most {MAX_INT32}, got {value!r}")
    return int(value)


def check_number(value, name: str, minimum: float | None = None, *, above: bool = False) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number (not a bool) ``>= minimum``.

    Args:
        value: the argument to check.
        name: the argument's name, for the message.
        minimum: the lower bound, or ``None``.
        above: ``value`` must be strictly greater than ``minimum``.

    Raises:
        ArgumentTypeError: ``value`` is not a real number.
        ValueError: ``value`` is NaN, infinite or below the bound.
    """
    allowed = "a finite number" + ("" if minimum is None else f" {'>' if above else '>='} {minimum}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(f"{name} must be {allowed}, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value) or (minimum is not None and (value <= minimum if above else value < minimum)):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return float(value)


def check_finite(array: np.ndarray, name: str) -> np.ndarray:
    """Return the numeric ``array`` if it holds no NaN and no infinity.

    Raises:
        ValueError: a value is not finite (names the first and its index).
    """
    bad = ~np.isfinite(array)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must hold finite numbers, got {array[index]} at index {index} "
                         f"({int(bad.sum())} of {array.size} not finite)")
    return array
