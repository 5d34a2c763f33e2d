"""One call to make a run quiet and reproducible: :func:`configure`.

Import this module *before* TensorFlow: it sets the environment variables that
TensorFlow reads once, at import time.
"""
from __future__ import annotations

import os
import platform

from .checks import check_int

# Must happen before the first `import tensorflow` anywhere in the process.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")     # no C++ INFO/WARNING/ERROR log lines
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")    # oneDNN on/off changes low-order bits
# One thread per op: the LSTM's small matrix products gain nothing from being split across cores
# (measured on 2 cores: training 33-40k -> 52-55k chars/s; benchmarks/results/speed.csv), and a
# product's sums no longer depend on the number of cores. Independent ops still run side by side.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

#: Versions this project is pinned to (requirements.txt); others may work but
#: can change the low digits of the notebook's numbers.
PINNED = {"tensorflow": "2.21", "keras": "3.15", "numpy": "2.4", "pandas": "3.1", "matplotlib": "3.11"}


def configure(seed: int = 42, deterministic: bool = True) -> dict[str, str]:
    """Seed every random generator and make TensorFlow ops deterministic.

    Seeds Python's ``random``, NumPy and TensorFlow through
    :func:`keras.utils.set_random_seed`; with ``deterministic`` also calls
    :func:`tf.config.experimental.enable_op_determinism`, which made repeated
    runs bit-identical on one machine (another CPU may differ in the low bits).

    Args:
        seed: the global seed (int >= 0).
        deterministic: enable deterministic TensorFlow ops (slightly slower).

    Returns:
        ``{package: version}`` for Python and the main packages.
    """
    check_int(seed, "seed", minimum=0)
    import keras
    import matplotlib
    import numpy as np
    import pandas as pd
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # no Python-side warnings (e.g. tf.function retracing notices)
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "matplotlib": matplotlib.__version__,
    }


def version_mismatches(versions: dict[str, str]) -> list[str]:
    """Packages whose installed major.minor version differs from :data:`PINNED`."""
    return [f"{name} {versions[name]} (pinned {want})" for name, want in PINNED.items()
            if name in versions and not versions[name].startswith(want + ".") and versions[name] != want]
