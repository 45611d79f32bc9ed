"""Plain records that every dataset reader produces: a page with its annotated lines.

Coordinates are pixels of the page image, origin at the top-left corner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

Point = tuple[float, float]
BoxXYXY = tuple[float, float, float, float]


def polygon_box(points: list[Point]) -> BoxXYXY:
    """Return the axis-aligned box ``(x0, y0, x1, y1)`` that encloses ``points``."""
    if not points:
        raise ValueError("a polygon needs at least one point")
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


@dataclass(frozen=True)
class LineRecord:
    """One annotated text line.

    Attributes:
        box: ``(x0, y0, x1, y1)`` in page pixels.
        text: the transcription (may be empty: the line exists but was not transcribed).
        polygon: the outline in page pixels, or an empty tuple when only a box is known.
        baseline: baseline points in page pixels, or an empty tuple.
        line_id: the identifier in the source file, if any.
    """

    box: BoxXYXY
    text: str
    polygon: tuple[Point, ...] = ()
    baseline: tuple[Point, ...] = ()
    line_id: str = ""


@dataclass
class PageRecord:
    """One annotated page: its image file, its size and its lines in the source's reading order."""

    image_path: Path
    width: int
    height: int
    lines: list[LineRecord] = field(default_factory=list)
    page_id: str = ""
    ignore_regions: list[BoxXYXY] = field(default_factory=list)

    @property
    def stem(self) -> str:
        """The page's file stem, used by split lists."""
        return self.image_path.stem
