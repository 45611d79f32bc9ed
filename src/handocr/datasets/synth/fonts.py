"""Fonts for the synthetic pages: handwriting faces from files, printed faces for headers and stamps.

Any TrueType/OpenType/WOFF file works. A face knows which characters it has (from its ``cmap``
through fontTools when installed, else by comparing a glyph with the font's "missing glyph" box),
so text it cannot draw is changed before it is drawn and the label always says what is on the page.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

FONT_SUFFIXES = {".ttf", ".otf", ".woff", ".woff2", ".ttc"}
_PRINTED_NAMES = ("DejaVuSerif.ttf", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif-Bold.ttf")
_SUBSTITUTES = {"’": "'", "‘": "'", "«": '"', "»": '"', "“": '"', "”": '"', "œ": "oe", "Œ": "Oe", "…": "...", "—": "-"}
_MISSING_PROBES = "\ue000\ue001\U0010fffd"


class FontFace:
    """One font file (or Pillow's built-in face when ``path`` is ``None``), loaded once per size."""

    def __init__(self, path: Path | None):
        self.path = Path(path) if path is not None else None
        self.name = self.path.stem if self.path else "pillow-default"
        self._cmap = _cmap(self.path) if self.path else None
        self._covers: dict[str, bool] = {}
        _, top, _, bottom = self.at(100).getbbox("x", anchor="ls")
        self.x_height = max(1, bottom - top) / 100  # x-height in ems
        _, top, _, bottom = self.at(100).getbbox("Hdgjly", anchor="ls")
        self.extent = max(1, bottom - top) / 100  # ascender top to descender bottom, in ems

    def at(self, size: float) -> ImageFont.FreeTypeFont:
        """The face at ``size`` pixels (rounded; cached)."""
        return _load(self.path, max(4, round(size)))

    def covers(self, char: str) -> bool:
        """True when the face has a glyph for ``char`` (whitespace always counts as covered)."""
        if char.isspace():
            return True
        if char not in self._covers:
            if self._cmap is not None:
                self._covers[char] = ord(char) in self._cmap
            else:
                font = self.at(40)
                mask = bytes(font.getmask(char))
                self._covers[char] = bool(mask.strip(b"\x00")) and all(
                    mask != bytes(font.getmask(probe)) for probe in _MISSING_PROBES
                )
        return self._covers[char]

    def drawable(self, text: str) -> str:
        """``text`` changed so that every character is in the face: ``é`` becomes ``e`` if ``é`` is
        missing, ``’`` becomes ``'``, and what has no stand-in is dropped."""
        out = []
        for char in text:
            if self.covers(char):
                out.append(char)
                continue
            substitute = _SUBSTITUTES.get(char) or unicodedata.normalize("NFD", char)[0]
            if substitute != char and all(self.covers(c) for c in substitute):
                out.append(substitute)
        return " ".join("".join(out).split())

    def is_handwriting_usable(self) -> bool:
        """False for faces that cannot write ordinary text: no lowercase (caps-only) or no letters."""
        if not all(self.covers(c) for c in "aeinorstAEINORST"):
            return False
        font = self.at(40)
        return bytes(font.getmask("a")) != bytes(font.getmask("A"))

    def __repr__(self) -> str:
        return f"FontFace({self.name!r})"


@lru_cache(maxsize=512)
def _load(path: Path | None, size: int) -> ImageFont.FreeTypeFont:
    if path is None:
        return ImageFont.load_default(size)  # type: ignore[return-value]
    return ImageFont.truetype(str(path), size)


def _cmap(path: Path) -> set[int] | None:
    try:
        from fontTools.ttLib import TTFont
    except ImportError:
        return None
    try:
        with TTFont(str(path), fontNumber=0, lazy=True) as font:
            return set(font.getBestCmap() or {})
    except Exception:  # a WOFF2 without brotli, an odd file: fall back to Pillow's glyph test
        return None


def font_files(sources: list[Path | str]) -> list[Path]:
    """Font files named in ``sources`` (files or folders, searched recursively), sorted, deduplicated."""
    found: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.suffix.lower() in FONT_SUFFIXES and p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such font file or folder")
    return list(dict.fromkeys(found))


def load_faces(sources: list[Path | str] | None, check: bool = True) -> list[FontFace]:
    """Handwriting faces from font files or folders; Pillow's built-in face when ``sources`` is empty.

    With ``check``, faces without lowercase letters (caps-only) are left out. Raises ``ValueError``
    when folders were given but no usable face was found.
    """
    if not sources:
        return [FontFace(None)]
    faces = [FontFace(p) for p in font_files(list(sources))]
    if check:
        faces = [f for f in faces if f.is_handwriting_usable()]
    if not faces:
        raise ValueError(f"no usable font in {[str(s) for s in sources]} (run scripts/install_fonts.sh)")
    return faces


def default_printed_faces() -> list[FontFace]:
    """Faces for printed headers and stamps: DejaVu from matplotlib or the system, else Pillow's face."""
    folders = [Path("/usr/share/fonts/truetype/dejavu")]
    try:
        import matplotlib

        folders.insert(0, Path(matplotlib.get_data_path()) / "fonts" / "ttf")
    except ImportError:
        pass
    for folder in folders:
        files = [folder / name for name in _PRINTED_NAMES if (folder / name).is_file()]
        if files:
            return [FontFace(p) for p in files]
    return [FontFace(None)]
