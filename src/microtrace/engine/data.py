"""Documents and the character tokenizer.

A dataset is a UTF-8 text file with one document per line. microGPT's reading rules: strip the text,
split on newlines, strip each line, drop the empty ones. The default dataset is the US Census first
names shipped by the `names` package (found on disk, never imported), lower-cased and de-duplicated.
`makemore` is microGPT's own names.txt, downloaded once into a cache directory and pinned by its sha256:
a download with other bytes (a truncated response, a changed file, a proxy's error page) is refused and
never cached.
"""

import hashlib
import http.client
import importlib.util
import os
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from microtrace.util.atomic import write_atomic
from microtrace.util.errors import BadInput
from microtrace.util.limits import LimitError, read_input
from microtrace.util.text import visible

MAKEMORE_URL = "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt"
MAKEMORE_SHA256 = "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"
MAKEMORE_BYTES = 228145
NAMES_FILES = ("dist.female.first", "dist.male.first")


class DataError(BadInput):
    """A dataset that cannot be used; the message is one line meant for the user."""


@dataclass(frozen=True)
class Dataset:
    docs: list  # in file order (the training loop shuffles its own copy)
    source: str  # "names", "makemore" or the path as given
    sha256: str  # of the bytes the documents were read from


def parse_docs(text):
    """microGPT's rule: one document per line, stripped, empty lines dropped."""
    return [line.strip() for line in text.strip().split("\n") if line.strip()]


def read_docs(path):
    """Documents of a UTF-8 text file, or DataError with a one-line reason."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path} is a directory, not a text file")
    try:
        raw = read_input(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except LimitError as e:
        raise DataError(str(e)) from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (undecodable byte at offset {e.start})") from None
    docs = parse_docs(text)
    if not docs:
        raise DataError(f"{path}: no documents (the file is empty or only blank lines)")
    return Dataset(docs, str(path), hashlib.sha256(raw).hexdigest())


def names_dataset():
    """First names from the `names` package: female then male list, lower-cased, first occurrence kept."""
    spec = importlib.util.find_spec("names")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the default dataset needs the 'names' package: pip install names")
    folder = Path(list(spec.submodule_search_locations)[0])
    raw = b"".join((folder / f).read_bytes() for f in NAMES_FILES)
    seen = {}
    for line in raw.decode("ascii").splitlines():
        if line.strip():
            seen.setdefault(line.split()[0].lower(), None)
    return Dataset(list(seen), "names", hashlib.sha256(raw).hexdigest())


def cache_dir():
    base = os.environ.get("MICROTRACE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "microtrace"
    )
    return Path(base)


def makemore_dataset(url=None):
    """microGPT's names.txt: downloaded once into the cache directory, then read from there; both the
    download and the cached file must have the pinned sha256 (MAKEMORE_SHA256)."""
    url = url or os.environ.get("MICROTRACE_MAKEMORE_URL") or MAKEMORE_URL
    path = cache_dir() / "makemore-names.txt"
    if not os.path.lexists(path):
        raw = _download(url)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, raw)
        except OSError as e:
            raise DataError(
                f"cannot cache makemore's names.txt in {path.parent} ({e.strerror or e}); "
                "set MICROTRACE_CACHE to a writable folder, or pass a local file of names"
            ) from None
    dataset = read_docs(path)
    if dataset.sha256 != MAKEMORE_SHA256:
        raise DataError(f"{path} is not makemore's names.txt (its sha256 differs); delete it to download it again")
    return Dataset(dataset.docs, "makemore", dataset.sha256)


def _download(url):
    """The bytes at `url`, refused unless they are makemore's names.txt (by sha256)."""

    def failed(reason):
        return DataError(f"could not download makemore's names.txt ({reason}); pass a local file of names instead")

    try:
        where = urllib.parse.urlsplit(url)
        if where.scheme.lower() == "file":  # a local copy: read as every input file is, never waiting on a FIFO
            raw = read_input(urllib.request.url2pathname(where.path))[: 2 * MAKEMORE_BYTES + 1]
        else:
            with urllib.request.urlopen(url, timeout=30) as response:
                raw = response.read(2 * MAKEMORE_BYTES + 1)  # past twice its size it is not the file
    except (OSError, ValueError, http.client.HTTPException) as e:
        raise failed(getattr(e, "reason", None) or e or type(e).__name__) from None
    if hashlib.sha256(raw).hexdigest() != MAKEMORE_SHA256:
        raise failed(f"{url} sent {len(raw)} bytes whose sha256 is not the pinned {MAKEMORE_SHA256[:12]}...")
    return raw


def load_dataset(spec: str | os.PathLike | None = None) -> "Dataset":
    """`None`/"names" -> the default names, "makemore" -> the cached download, else a file path."""
    if spec in (None, "names"):
        return names_dataset()
    if spec == "makemore":
        return makemore_dataset()
    return read_docs(spec)


class Tokenizer:
    """Characters to ids: the sorted unique characters, then BOS (= len(chars)) last."""

    def __init__(self, chars):
        self.chars = list(chars)
        self.bos = len(self.chars)
        self.vocab_size = self.bos + 1
        self._ids = {ch: i for i, ch in enumerate(self.chars)}

    @classmethod
    def from_docs(cls, docs):
        return cls(sorted(set("".join(docs))))

    def encode(self, text):
        """[BOS] + ids + [BOS]; ValueError naming every character outside the vocabulary."""
        unknown = sorted(set(text) - set(self._ids))
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {''.join(unknown)!r}")
        return [self.bos] + [self._ids[ch] for ch in text] + [self.bos]

    def decode(self, ids):
        return "".join(self.chars[i] for i in ids if i != self.bos)

    def label(self, i):
        """A printable label for a token id (BOS as '<BOS>'; a control character as its picture)."""
        return "<BOS>" if i == self.bos else visible(self.chars[i])
