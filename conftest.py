"""Root pytest configuration, shared by the unit tests and nbval.

TensorFlow writes C++ log lines to stderr under Jupyter but not under pytest, so a notebook saved
from Jupyter would fail nbval with "Missing output fields {'stderr'}": the stderr stream is not
compared (nbval's documented remedy). The committed notebook keeps stderr empty anyway
(tests/test_notebook_hygiene.py).
"""


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
