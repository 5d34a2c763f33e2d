"""Shared fixtures: the real corpus (built once per test session) and quiet TensorFlow."""
from __future__ import annotations

import pytest

import utils.environment  # noqa: F401  (sets TF log level before any TensorFlow import)
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
