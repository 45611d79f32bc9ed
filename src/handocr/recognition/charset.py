"""The recognizer's alphabet: index 0 is the CTC blank, then one entry per character."""

from __future__ import annotations

import json
import string
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_LATIN1 = "".join(chr(c) for c in range(0xA1, 0x100) if chr(c).isprintable() and c != 0xAD)
_EXTRA = "œŒ€‘’“”–—…•π∞"
DEFAULT_CHARACTERS = "".join(
    dict.fromkeys(" " + "".join(c for c in string.printable if c not in string.whitespace) + _LATIN1 + _EXTRA)
)


@dataclass(frozen=True)
class Charset:
    """Maps characters to class indices; class 0 is the CTC blank."""

    characters: str = DEFAULT_CHARACTERS

    @property
    def num_classes(self) -> int:
        """Number of output classes, blank included."""
        return len(self.characters) + 1

    def encode(self, text: str) -> list[int]:
        """Class indices of ``text``; characters outside the charset are dropped."""
        index = self._index
        return [index[c] for c in text if c in index]

    def decode(self, indices: Iterable[int]) -> str:
        """Text of a sequence of class indices (blanks skipped, no collapsing)."""
        return "".join(self.characters[i - 1] for i in indices if i > 0)

    def unknown(self, text: str) -> set[str]:
        """Characters of ``text`` the charset cannot represent."""
        return {c for c in text if c not in self._index}

    @property
    def _index(self) -> dict[str, int]:
        cached = self.__dict__.get("_cached_index")
        if cached is None:
            cached = {c: i + 1 for i, c in enumerate(self.characters)}
            object.__setattr__(self, "_cached_index", cached)
        return cached

    def to_json(self) -> str:
        """Serialise to JSON (stored beside the model and in its metadata)."""
        return json.dumps({"characters": self.characters}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Charset:
        """Inverse of :meth:`to_json`."""
        return cls(characters=json.loads(text)["characters"])

    @classmethod
    def load(cls, path: Path) -> Charset:
        """Read a charset JSON file."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
