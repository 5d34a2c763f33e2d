"""Shared fixtures: the real corpus (built once per test session) and the notebook's model code."""
from __future__ import annotations

import pytest

from utils.corpus import load_shakespeare
from utils.splits import split_by_documents
from utils.vocab import Vocabulary


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    return load_shakespeare(cache_dir=tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def splits(corpus):
    return split_by_documents(corpus)


@pytest.fixture(scope="session")
def vocab(splits):
    return Vocabulary.from_text(splits["train"].text)


@pytest.fixture(scope="session")
def notebook_code():
    """The notebook's own ``shared-code`` cells (``build_model``, ``compile_model``), run once."""
    from utils.notebook_code import shared_code

    return shared_code()


@pytest.fixture(scope="session")
def char_model(notebook_code):
    """Factory: the notebook's ``build_model`` with small defaults, e.g. ``char_model(9, num_layers=2)``."""
    def make(vocab_size, *, embedding_dim=4, units=8, num_layers=1, dropout=0.0, skip_connections=False):
        return notebook_code.build_model(vocab_size, embedding_dim=embedding_dim, units=units,
                                         num_layers=num_layers, dropout=dropout,
                                         skip_connections=skip_connections)
    return make


@pytest.fixture(scope="session")
def compiled(notebook_code):
    """Factory: the notebook's ``compile_model`` with test defaults, returning the model."""
    def make(model, learning_rate=1e-2, total_steps=1000, clipnorm=1.0):
        return notebook_code.compile_model(model, learning_rate, total_steps, clipnorm)
    return make
