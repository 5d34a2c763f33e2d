"""Integer argument checks shared by the helpers: ``bool`` and floats such as ``8.0`` are refused."""
from __future__ import annotations

import numpy as np

__all__ = ["ArgumentTypeError", "check_int", "is_int"]


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
        maximum: inclusive upper bound, or ``None``.
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
    return int(value)
