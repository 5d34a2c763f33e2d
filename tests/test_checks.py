"""utils/checks.py: one rule for integer arguments (no bools, no floats), with a message that
names the argument, the value and the allowed range."""
import numpy as np
import pytest

from utils.checks import ArgumentTypeError, check_finite, check_int, check_number, is_int


@pytest.mark.parametrize("value", [0, 7, np.int32(3), np.int64(-2)])
def test_integers_pass_and_come_back_as_python_int(value):
    assert is_int(value)
    out = check_int(value, "n", minimum=None)
    assert out == value and type(out) is int


@pytest.mark.parametrize("value", [True, np.bool_(False), 8.0, np.float32(2), "3", None, [1]])
def test_non_integers_are_refused_as_type_errors(value):
    assert not is_int(value)
    with pytest.raises(ArgumentTypeError, match=r"n must be an int >= 1, got .* \(") as info:
        check_int(value, "n")
    # catchable as either kind, as the helpers' docstrings promise ValueError
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("kwargs, value, message", [
    (dict(), 0, r"n must be an int >= 1, got 0"),
    (dict(minimum=0, maximum=5), 6, r"n must be an int in \[0, 5\], got 6"),
    (dict(minimum=None, maximum=5), 6, r"n must be an int <= 5, got 6"),
    (dict(minimum=2, or_none=True), 1, r"n must be an int >= 2 or None, got 1"),
])
def test_out_of_range_names_the_range(kwargs, value, message):
    with pytest.raises(ValueError, match=message) as info:
        check_int(value, "n", **kwargs)
    assert not isinstance(info.value, TypeError)


def test_bounds_are_inclusive():
    assert check_int(0, "n", 0, 0) == 0
    assert check_int(2**31 - 1, "seed", 0, 2**31 - 1) == 2**31 - 1


def test_sizes_of_2_31_or_more_are_refused_unless_a_maximum_is_given():
    with pytest.raises(ValueError, match=r"length must be an int >= 1 and at most 2147483647, got 2147"):
        check_int(2**31, "length")
    assert check_int(2**32 - 1, "seed", 0, 2**32 - 1) == 2**32 - 1


@pytest.mark.parametrize("value, kind", [(float("nan"), ValueError), (float("inf"), ValueError),
                                         (-1.0, ValueError), ("1", ArgumentTypeError),
                                         (True, ArgumentTypeError), (None, ArgumentTypeError)])
def test_numbers_must_be_finite_and_in_range(value, kind):
    with pytest.raises(kind, match=r"bias must be a finite number >= 0, got"):
        check_number(value, "bias", 0)
    assert check_number(np.float32(0.5), "bias", 0) == 0.5 and check_number(3, "rate", 0, above=True) == 3.0


def test_arrays_must_be_finite():
    with pytest.raises(ValueError, match=r"x must hold finite numbers, got nan at index \(1, 0\)"):
        check_finite(np.array([[1.0, 2.0], [np.nan, 3.0]]), "x")
