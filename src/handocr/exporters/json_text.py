"""JSON (the Document itself) and plain text exporters."""

from __future__ import annotations

from PIL import Image

from handocr.exporters import register
from handocr.schema import Document


@register("json", ".json", "application/json")
def to_json(document: Document, images: list[Image.Image] | None = None) -> bytes:
    """The Document as indented UTF-8 JSON."""
    return document.model_dump_json(indent=2).encode("utf-8")


@register("text", ".txt", "text/plain; charset=utf-8")
def to_text(document: Document, images: list[Image.Image] | None = None) -> bytes:
    """The text in reading order: a blank line between paragraphs, a form feed between pages."""
    return (document.text + "\n").encode("utf-8")
