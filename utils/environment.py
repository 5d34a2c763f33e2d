"""Seeds, op determinism and the package versions of a run.

The environment variables TensorFlow reads at import time are set in :mod:`utils` (``__init__.py``).
"""
from __future__ import annotations

import platform

from .checks import check_int

#: Versions pinned in requirements.txt (major.minor); others can change the low digits of results.
PINNED = {"tensorflow": "2.21", "keras": "3.15", "numpy": "2.4", "pandas": "3.1", "matplotlib": "3.11"}


def configure(seed: int = 42, deterministic: bool = True) -> dict[str, str]:
    """Seed Python, NumPy and TensorFlow; optionally make TensorFlow ops deterministic.

    Args:
        seed: the global seed, an int in [0, 2**32 - 1] (NumPy's range).
        deterministic: call ``tf.config.experimental.enable_op_determinism()``.

    Returns:
        ``{package: version}`` for Python and the main packages.
    """
    check_int(seed, "seed", 0, 2**32 - 1)
    import keras
    import matplotlib
    import numpy as np
    import pandas as pd
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # no Python-side warnings (e.g. retracing notices)
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "pandas": pd.__version__, "matplotlib": matplotlib.__version__}


def version_mismatches(versions: dict[str, str]) -> list[str]:
    """Packages whose major.minor version differs from :data:`PINNED`, as ``"name x.y.z (pinned a.b)"``."""
    return [f"{name} {versions[name]} (pinned {want})" for name, want in PINNED.items()
            if name in versions and not versions[name].startswith(want + ".") and versions[name] != want]
