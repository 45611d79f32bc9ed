"""Searchable PDF exporter: each page image as a PDF page with an invisible, selectable text layer.

Every line's text is drawn in render mode 3 (invisible) over the line's box: the font size is the
box height, the baseline sits at the font's descent above the box bottom, and the text is scaled
horizontally (``Tz``) to the box width. Pure Python (Pillow and zlib); see
:mod:`handocr.exporters._pdfobjects` for the font.

Page size in points comes from the image's resolution (``image.info["dpi"]``) when it is between
100 and 1200 dpi, else :data:`DEFAULT_DPI` (the resolution :mod:`handocr.imageio` renders PDF
pages at; 72 dpi, a common meaningless default in photos, is not trusted).
"""

from __future__ import annotations

import io

from PIL import Image

from handocr import __version__
from handocr.exporters import register
from handocr.exporters._glyphless import ADVANCE, DESCENT
from handocr.exporters._pdfobjects import (
    PdfWriter,
    add_invisible_font,
    bmp_only,
    show_text,
    text_string,
)
from handocr.schema import Document, Line, Page

DEFAULT_DPI = 200.0
JPEG_QUALITY = 90


def page_dpi(image: Image.Image) -> float:
    """The resolution to lay ``image`` out at, in dots per inch (see the module docstring)."""
    dpi = image.info.get("dpi")
    try:
        value = float(dpi[0]) if isinstance(dpi, tuple | list) else float(dpi)
    except (TypeError, ValueError, IndexError):
        return DEFAULT_DPI
    return value if 100 <= value <= 1200 else DEFAULT_DPI


def _image_xobject(writer: PdfWriter, image: Image.Image) -> int:
    """Add ``image`` as a JPEG image XObject (grey when the image is grey) and return its number."""
    grey = image.mode in ("1", "L", "LA", "I", "I;16", "F")
    picture = image.convert("L" if grey else "RGB")
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    entries = b" /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /%s /BitsPerComponent 8" % (
        picture.width,
        picture.height,
        b"DeviceGray" if grey else b"DeviceRGB",
    )
    return writer.add_stream(buffer.getvalue(), entries + b" /Filter /DCTDecode", compress=False)


def line_operators(line: Line, scale: float, page_height_pt: float) -> bytes:
    """The content-stream operators drawing ``line``'s text invisibly over its box.

    ``scale`` is points per pixel; ``page_height_pt`` flips the y axis (PDF's origin is at the
    bottom-left corner). Empty lines give no operators.
    """
    text = bmp_only(line.text)
    if not text.strip():
        return b""
    x0, y0, x1, y1 = (v * scale for v in line.box)
    size = max(y1 - y0, 1.0)
    natural = len(text) * ADVANCE / 1000 * size
    stretch = 100 * max(x1 - x0, 1.0) / natural
    baseline = page_height_pt - y1 - DESCENT / 1000 * size
    return b"BT /F1 %.3f Tf 3 Tr %.3f Tz 1 0 0 1 %.3f %.3f Tm %s Tj ET\n" % (
        size,
        stretch,
        x0,
        baseline,
        show_text(text),
    )


def _add_page(writer: PdfWriter, pages_id: int, font: int, page: Page, image: Image.Image) -> int:
    scale = 72.0 / page_dpi(image)
    width, height = page.width * scale, page.height * scale
    content = b"q %.3f 0 0 %.3f 0 0 cm /Im1 Do Q\n" % (width, height)
    content += b"".join(line_operators(line, scale, height) for line in page.lines)
    stream = writer.add_stream(content)
    picture = _image_xobject(writer, image)
    return writer.add(
        b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.3f %.3f] /Contents %d 0 R"
        b" /Resources << /XObject << /Im1 %d 0 R >> /Font << /F1 %d 0 R >> >> >>"
        % (pages_id, width, height, stream, picture, font)
    )


@register("pdf", ".pdf", "application/pdf")
def to_pdf(document: Document, images: list[Image.Image]) -> bytes:
    """A searchable PDF: one PDF page per page, showing ``images[i]`` under page ``i``'s text.

    ``images`` are the decoded page images, one per page (raises ``ValueError`` otherwise, or for
    a document without pages). Boxes are scaled from pixels to points by the page's resolution.
    """
    if not document.pages:
        raise ValueError("document has no pages to write")
    if len(images) != len(document.pages):
        raise ValueError(f"{len(document.pages)} pages but {len(images)} images")
    writer = PdfWriter()
    catalog, pages_id = writer.reserve(), writer.reserve()
    font = add_invisible_font(writer)
    kids = [_add_page(writer, pages_id, font, page, image) for page, image in zip(document.pages, images, strict=True)]
    refs = b" ".join(b"%d 0 R" % kid for kid in kids)
    writer.set(pages_id, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (refs, len(kids)))
    writer.set(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    info = b"<< /Producer %s" % text_string(f"handocr {__version__}")
    if document.source:
        info += b" /Title %s" % text_string(document.source)
    info_id = writer.add(info + b" >>")
    return writer.write(catalog, info_id)
