"""Helpers shared by the XML and PDF exporters: blocks of lines, words of a line, safe text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from handocr import __version__
from handocr.schema import Line, Page, Word

SOFTWARE = "handocr"
SOFTWARE_VERSION = __version__

# Characters that XML 1.0 does not allow, even escaped: C0 controls other than tab, newline and
# carriage return, lone surrogates, and U+FFFE/U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids (escaping is the serializer's job)."""
    return _NOT_XML.sub("", text)


@dataclass(frozen=True)
class Block:
    """A run of lines exported together: a paragraph, or lines that no paragraph holds.

    Attributes:
        box: ``[x0, y0, x1, y1]`` in page pixels.
        lines: indices into ``Page.lines``, in reading order.
    """

    box: list[int]
    lines: list[int]


def union_box(boxes: list[list[int]]) -> list[int]:
    """The smallest ``[x0, y0, x1, y1]`` that holds every box in ``boxes`` (non-empty)."""
    return [
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]


def blocks(page: Page) -> list[Block]:
    """The page's paragraphs in order; a line that no paragraph lists gets a block of its own.

    Indices out of range are ignored, so a block never points past ``page.lines``; a paragraph
    left without lines is dropped.
    """
    out: list[Block] = []
    seen: set[int] = set()
    for paragraph in page.paragraphs:
        indices = [i for i in paragraph.lines if 0 <= i < len(page.lines)]
        if indices:
            out.append(Block(list(paragraph.box), indices))
            seen.update(indices)
    for i, line in enumerate(page.lines):
        if i not in seen:
            out.append(Block(list(line.box), [i]))
    return out


def line_words(line: Line) -> list[Word]:
    """The line's words; a line recognised without word boxes is one word over the whole line."""
    if line.words:
        return line.words
    if not line.text.strip():
        return []
    return [Word(box=line.box, text=line.text.strip(), confidence=line.confidence)]


def polygon_points(box: list[int]) -> str:
    """A box as the PAGE-XML points of its four corners, clockwise from the top-left."""
    x0, y0, x1, y1 = box
    return f"{x0},{y0} {x1},{y0} {x1},{y1} {x0},{y1}"
