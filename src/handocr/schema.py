"""The result tree shared by the library, the CLI, the service and every exporter.

``Document -> Page -> (lines, paragraphs) -> Line -> Word``. Boxes are ``[x0, y0, x1, y1]`` in
pixels of the input image (of that page, for multi-page inputs), origin at the top-left corner.
Confidences are probabilities in ``[0, 1]``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.3"  # 1.3: Page.language


def _check_box(box: list[int]) -> list[int]:
    if len(box) != 4:
        raise ValueError("a box has four numbers: x0, y0, x1, y1")
    x0, y0, x1, y1 = box
    if x1 < x0 or y1 < y0:
        raise ValueError(f"box corners out of order: {box}")
    return box


Box = Annotated[list[int], AfterValidator(_check_box)]
Confidence = Annotated[float, Field(ge=0.0, le=1.0)]


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Word(_Node):
    """One word of a line, with its box from the recognizer's alignment; ``needs_review`` when its
    confidence is under the reader's word review threshold."""

    box: Box
    text: str
    confidence: Confidence
    needs_review: bool = False


class Line(_Node):
    """One text line: detector box and score, recognised text and confidence, its words."""

    box: Box
    text: str
    confidence: Confidence
    det_score: Confidence
    words: list[Word] = Field(default_factory=list)
    needs_review: bool = False


class Paragraph(_Node):
    """A group of consecutive lines; ``lines`` are indices into ``Page.lines``."""

    box: Box
    lines: list[int]


class Timings(_Node):
    """Milliseconds spent per stage on one page."""

    decode: float = 0.0
    detect: float = 0.0
    orient: float = 0.0
    recognize: float = 0.0
    layout: float = 0.0
    total: float = 0.0


class Page(_Node):
    """One page: its size in pixels, lines in reading order, paragraphs, stage timings.

    ``rotation`` is how many degrees (0, 90, 180 or 270) the page was turned counter-clockwise to
    read it upright; boxes are always in the input image's pixels. ``language`` is the code of the
    language-specific decoder that read it (see :mod:`handocr.recognition.language`), if any.
    """

    width: int
    height: int
    rotation: Literal[0, 90, 180, 270] = Field(
        default=0, description="degrees turned counter-clockwise to read upright"
    )
    language: str | None = Field(
        default=None,
        description="the language whose decoder read the page (e.g. fr, en); null: the recognizer's general one",
    )
    lines: list[Line] = Field(default_factory=list)
    paragraphs: list[Paragraph] = Field(default_factory=list)
    timings_ms: Timings = Field(default_factory=Timings)

    @property
    def text(self) -> str:
        """The page text: lines in reading order, a blank line between paragraphs."""
        if not self.paragraphs:
            return "\n".join(line.text for line in self.lines)
        return "\n\n".join("\n".join(self.lines[i].text for i in p.lines) for p in self.paragraphs)


class ModelInfo(_Node):
    """A model's name and version."""

    name: str
    version: str


class Models(_Node):
    """The models that produced a document."""

    detector: ModelInfo
    recognizer: ModelInfo


class Document(_Node):
    """The result of reading one input (one page per image, several for TIFF or PDF)."""

    schema_version: str = SCHEMA_VERSION
    model: Models
    source: str | None = None
    pages: list[Page] = Field(default_factory=list)

    @property
    def text(self) -> str:
        """All pages' text, pages separated by a form feed."""
        return "\f".join(page.text for page in self.pages)
