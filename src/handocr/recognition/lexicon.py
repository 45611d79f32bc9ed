"""A word lexicon for CTC beam search: a word the lexicon lacks costs a fixed penalty once it ends.

The character language model (:mod:`handocr.recognition.lm`) scores spelling locally, a few
characters at a time; the lexicon judges whole words. Only plain words are judged: a word is
lowercased and stripped of the punctuation around it, and one that is then not all letters (a
number, an abbreviation with a dot inside, ``l'album``, ``Bosnie-Herzégovine``) is never penalised.
Names and rare words the lexicon lacks can still win, when the network reads them clearly enough.

The file is a gzip'd word list, one word a line, built offline by :func:`main` from word lists
(``--lang``: Debian's ``wfrench`` (GPL-2+) / ``wamerican`` and ``wbritish`` (SCOWL, permissive);
``--word-list``: any other, such as the forms of a hunspell dictionary expanded by ``unmunch``) and
the ``train`` transcriptions of dataset folders. The shipped one takes its French from
``hunspell-fr-classical`` (MPL-2.0) rather than ``wfrench``, to keep GPL text out of the models
(see the recognizer's model card for the command).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

HEADER = b"#handocr-lexicon 1\n"
WORD_EDGES = ".,;:!?()[]{}\"'«»“”‘’-–—…*/"
EDGE, ALPHA = 1, 2  # class flags of the native tables
NativeTables = tuple[np.ndarray, int, bytes, np.ndarray, bytes]


def lexicon_key(word: str) -> str | None:
    """The form a word is looked up by (lowercased, its surrounding punctuation stripped), or
    ``None`` when it is not a plain word (empty, or not all letters once stripped)."""
    key = word.strip(WORD_EDGES).lower()
    return key if key.isalpha() else None


def native_tables(words: np.ndarray, characters: str) -> NativeTables:
    """``(records, width, lowered, offsets, flags)`` for :meth:`Lexicon.native_tables`: ``words`` (a
    sorted ``S`` array) as bytes, its item width, the lowercase UTF-8 forms of the classes (blank
    first, empty) end to end, where each starts and ends (``int64``, one more than the classes), and
    one flag byte per class."""
    forms = [b""] + [c.lower().encode("utf-8") for c in characters]
    offsets = np.zeros(len(forms) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(f) for f in forms])
    flags = bytes([0] + [(EDGE if c in WORD_EDGES else 0) | (ALPHA if c.lower().isalpha() else 0) for c in characters])
    width = max(1, words.dtype.itemsize)
    records = np.ascontiguousarray(words).view(np.uint8) if len(words) else np.zeros(0, dtype=np.uint8)
    return records, width, b"".join(forms), offsets, flags


class Lexicon:
    """A set of plain words (see :func:`lexicon_key`), held as one sorted array of UTF-8 byte
    strings: a third of the memory of a Python set of 585,000 words. Lookups are binary searches,
    with the answers for the most recent words kept in a small dict (beams share their words)."""

    def __init__(self, words: Iterable[str]) -> None:
        keys = sorted({key.encode("utf-8") for word in words if (key := lexicon_key(word)) is not None})
        self._sorted = np.array(keys, dtype=bytes) if keys else np.array([], dtype="S1")
        self._recent: dict[str, bool] = {}
        self._native: dict[str, NativeTables] = {}

    def __len__(self) -> int:
        return len(self._sorted)

    @property
    def words(self) -> frozenset[str]:
        """Every word of the lexicon (built on each call: for inspection, not lookups)."""
        return frozenset(word.decode("utf-8") for word in self._sorted.tolist())

    def native_tables(self, characters: str) -> NativeTables | None:
        """The lexicon as the C beam search reads it (see ``_ctcbeam.search``), for a model whose class
        ``c`` is ``characters[c - 1]``: its words as zero-padded UTF-8 records, their width, and each
        class's lowercase form (UTF-8) with its flags (``EDGE``: stripped from a word's ends,
        ``ALPHA``: a letter once lowercased). ``None`` when a lookup there would not match
        :meth:`knows`: a charset with ``Σ``, whose lowercase depends on where it stands in a word.
        Built once per charset."""
        if "Σ" in characters:
            return None
        tables = self._native.get(characters)
        if tables is None:
            tables = native_tables(self._sorted, characters)
            self._native[characters] = tables
        return tables

    def knows(self, word: str) -> bool:
        """Whether ``word`` is in the lexicon, or is no plain word and so is not judged."""
        known = self._recent.get(word)
        if known is None:
            known = self.knows_each([word])[0]
            if len(self._recent) > 20_000:
                self._recent.clear()
            self._recent[word] = known
        return known

    def knows_each(self, words: Sequence[str]) -> list[bool]:
        """:meth:`knows` of each of ``words``, in one binary search over them all: for many words at
        once (a page's, to guess its language), where a search a word would cost more than the
        lookups."""
        known = [True] * len(words)
        width = self._sorted.dtype.itemsize
        keys = []
        for i, word in enumerate(words):
            key = lexicon_key(word)
            if key is not None:
                known[i] = False
                wanted = key.encode("utf-8")
                if len(wanted) <= width:  # a longer one is in no word here (and a cast would cut it)
                    keys.append((i, wanted))
        if keys and len(self._sorted):
            wanted = np.array([key for _, key in keys], dtype=self._sorted.dtype)
            at = np.minimum(np.searchsorted(self._sorted, wanted), len(self._sorted) - 1)
            for (i, _), found in zip(keys, (self._sorted[at] == wanted).tolist(), strict=True):
                known[i] = found
        return known

    def save(self, path: Path) -> None:
        """Write a header line, then the words, sorted, one a line; gzip'd (deterministic bytes)."""
        data = HEADER + b"".join(word + b"\n" for word in self._sorted.tolist())
        Path(path).write_bytes(gzip.compress(data, compresslevel=9, mtime=0))

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        """Read a lexicon written by :meth:`save` (its words are taken as they are, in a fraction of
        the time), or any gzip'd or plain word list (its words are normalised and sorted)."""
        raw = Path(path).read_bytes()
        data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        if not data.startswith(HEADER):
            return cls(data.decode("utf-8").split())
        words = np.array(data[len(HEADER) :].split(), dtype=bytes)
        if len(words) > 1 and not bool(np.all(words[1:] > words[:-1])):
            raise ValueError(f"{path}: the words of a lexicon file must be sorted and unique")
        lexicon = cls(())
        lexicon._sorted = words if len(words) else lexicon._sorted
        return lexicon


def main(argv: list[str] | None = None) -> None:
    """``python -m handocr.recognition.lexicon OUT.txt.gz [--lang fr en] [--word-list F ...] [--data DIR ...]``."""
    import argparse

    from handocr.recognition.lm import add_source_arguments, transcriptions, word_list_words

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("out", type=Path)
    add_source_arguments(parser)
    args = parser.parse_args(argv)
    try:
        words = word_list_words(args.lang, args.word_list)
    except FileNotFoundError as exc:
        parser.error(str(exc))
    words.extend(word for text in transcriptions(args.data, args.split) for word in text.split())
    lexicon = Lexicon(words)
    lexicon.save(args.out)
    print(f"{args.out}: {len(lexicon)} words, {args.out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
