"""The annotated image: the page with line boxes and the recognised text drawn on it."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from handocr.exporters import register
from handocr.schema import Document, Page


def _colour(confidence: float) -> tuple[int, int, int]:
    """Green for confident lines through orange to red for doubtful ones."""
    c = max(0.0, min(1.0, confidence))
    return (int(230 * (1 - c) + 20 * c), int(60 * (1 - c) + 160 * c), 40)


_UNICODE_FONTS = (
    "DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/arial.ttf",
)


def _label_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A font with accented Latin glyphs if the system has one, else Pillow's built-in font."""
    for name in _UNICODE_FONTS:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


REVIEW_FILL = (255, 190, 0, 90)  # translucent amber over words flagged needs_review


def draw_page(page: Page, image: Image.Image) -> Image.Image:
    """A copy of ``image`` with each line's box, reading-order number and text drawn on it; words
    flagged ``needs_review`` are shaded amber and flagged lines' labels start with ``?``."""
    canvas = image.convert("RGB").copy()
    draw = ImageDraw.Draw(canvas, "RGBA")
    size = max(12, int(min(canvas.size) / 70))
    font = _label_font(size)
    for number, line in enumerate(page.lines, 1):
        x0, y0, x1, y1 = line.box
        colour = _colour(line.confidence)
        for word in line.words:
            if word.needs_review:
                draw.rectangle(tuple(word.box), fill=REVIEW_FILL)
        draw.rectangle((x0, y0, x1, y1), outline=(*colour, 255), width=max(2, size // 6))
        flag = "? " if line.needs_review else ""
        label = f"{flag}{number}. {line.text}  ({line.confidence:.2f})"
        tx, ty = x0, max(0, y0 - size - 4)
        bbox = draw.textbbox((tx, ty), label, font=font)
        draw.rectangle(bbox, fill=(255, 255, 255, 200))
        draw.text((tx, ty), label, fill=(*colour, 255), font=font)
    return canvas


@register("overlay", ".png", "image/png")
def to_overlay(document: Document, images: list[Image.Image]) -> bytes:
    """A PNG of the first page with its lines drawn (pages after the first are stacked below)."""
    pages = [draw_page(page, image) for page, image in zip(document.pages, images, strict=True)]
    if not pages:
        raise ValueError("document has no pages to draw")
    width = max(p.width for p in pages)
    height = sum(p.height for p in pages)
    sheet = Image.new("RGB", (width, height), "white")
    y = 0
    for p in pages:
        sheet.paste(p, (0, y))
        y += p.height
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
