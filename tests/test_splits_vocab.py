"""Splits by play, the training-only vocabulary with [UNK], and corpus statistics."""
from __future__ import annotations

import numpy as np
import pytest

from utils.corpus import Corpus
from utils.splits import (
    SHAKESPEARE_TEST,
    SHAKESPEARE_VALID,
    character_counts,
    corpus_statistics,
    split_by_documents,
    split_by_fraction,
    unigram_entropy_bits,
)
from utils.vocab import UNK_CHAR, UNK_ID, Vocabulary


def test_splits_disjoint_cover_all_plays(corpus, splits):
    names = [set(s.documents) for s in splits.values()]
    assert set().union(*names) == set(corpus.names)
    assert sum(len(n) for n in names) == len(corpus.names)
    assert splits["valid"].documents == tuple(n for n in corpus.names if n in SHAKESPEARE_VALID)
    assert set(splits["test"].documents) == set(SHAKESPEARE_TEST)


def test_split_sizes_about_90_5_5(splits):
    sizes = np.array([len(s.text) for s in splits.values()], dtype=float)
    share = sizes / sizes.sum()
    assert 0.86 < share[0] < 0.92 and all(0.04 < s < 0.07 for s in share[1:])


def test_unknown_play_name_lists_valid_names(corpus):
    with pytest.raises(ValueError, match=r"Unknown play name\(s\) \['hamlet-2'\].*othello"):
        split_by_documents(corpus, valid=("hamlet-2",))
    with pytest.raises(ValueError, match="both"):
        split_by_documents(corpus, valid=("othello",), test=("othello",))


def test_vocabulary_from_train_only_and_unk_counted():
    corpus = Corpus({"a": "abc\n", "b": "abz\n", "c": "ab\n"}, source="test")
    splits = split_by_documents(corpus, valid=("b",), test=("c",))
    vocab = Vocabulary.from_text(splits["train"].text)
    assert vocab.chars == ["\n", "a", "b", "c"] and vocab.size == 5
    assert vocab.count_unknown(splits["valid"].text) == 1
    assert vocab.unknown_chars(splits["valid"].text) == ["z"]
    ids = vocab.encode("abz")
    assert ids.tolist() == [2, 3, UNK_ID] and vocab.decode(ids) == "ab" + UNK_CHAR
    stats = corpus_statistics(splits, vocab)
    assert stats.loc["valid", "[UNK] characters"] == 1 and stats.loc["train", "[UNK] characters"] == 0


def test_labels_show_newline_and_space_and_counts_use_them():
    vocab = Vocabulary.from_text("a b\na")
    assert vocab.labels == ["[UNK]", "⏎", "␣", "a", "b"]
    counts = character_counts(vocab.encode("a b\na"), vocab)
    assert counts.to_dict() == {"a": 2, "⏎": 1, "␣": 1, "b": 1, "[UNK]": 0}
    assert list(counts.index) == ["a", "⏎", "␣", "b", "[UNK]"]  # most frequent first, ties in id order


def test_encode_decode_round_trip(splits, vocab):
    text = splits["train"].text
    ids = vocab.encode(text)
    assert ids.dtype == np.int32 and ids.shape == (len(text),)
    assert ids.min() >= 1 and ids.max() < vocab.size
    assert vocab.decode(ids) == text


def test_vocab_bad_inputs():
    with pytest.raises(ValueError, match="empty"):
        Vocabulary.from_text("")
    vocab = Vocabulary.from_text("ab")
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        vocab.decode([5])
    with pytest.raises(TypeError):
        vocab.encode(b"ab")


def test_statistics_table(splits, vocab):
    stats = corpus_statistics(splits, vocab)
    assert list(stats.index) == ["train", "valid", "test"]
    assert stats["characters"].sum() == sum(len(s.text) for s in splits.values())
    assert stats.loc["train", "plays"] == 34
    assert 4.0 < stats.loc["train", "unigram entropy (bits/char)"] < np.log2(vocab.size)


def test_unigram_entropy_known_values():
    assert unigram_entropy_bits("abab") == pytest.approx(1.0)
    assert unigram_entropy_bits("aaaa") == pytest.approx(0.0)
    assert unigram_entropy_bits("abcd") == pytest.approx(2.0)


def test_split_by_fraction_on_line_boundaries():
    text = "".join(f"line {i}\n" for i in range(100))
    parts = split_by_fraction(Corpus({"mine": text}, source="test"))
    assert "".join(p.text for p in parts.values()) == text
    assert all(p.text.endswith("\n") for p in parts.values())
    with pytest.raises(ValueError, match="valid_frac"):
        split_by_fraction(Corpus({"mine": text}, source="test"), valid_frac=0.7)


@pytest.mark.parametrize("text", ["word " * 4000, "word " * 4000 + "\n", "a line\n" + "word " * 4000])
def test_text_with_few_line_breaks_still_splits(text):
    from utils.corpus import Corpus
    from utils.splits import split_by_fraction

    parts = split_by_fraction(Corpus({"mine": text}, source="test"))
    assert "".join(parts[k].text for k in ("train", "valid", "test")) == text
    assert all(len(parts[k].text) >= 0.04 * len(text) for k in ("valid", "test"))
