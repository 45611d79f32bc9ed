"""Tests of the searchable PDF exporter, read back with pypdfium2's text extraction."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageFont

from handocr.exporters import get_exporter
from handocr.exporters._glyphless import glyphless_font
from handocr.exporters.pdf import DEFAULT_DPI, line_operators, page_dpi, to_pdf
from handocr.schema import Document, Line, ModelInfo, Models, Page

pdfium = pytest.importorskip("pypdfium2")

MODELS = Models(detector=ModelInfo(name="det", version="1"), recognizer=ModelInfo(name="rec", version="2"))


def make_line(box: list[int], text: str) -> Line:
    return Line(box=box, text=text, confidence=0.9, det_score=0.9)


def document() -> Document:
    first = Page(
        width=800,
        height=600,
        lines=[
            make_line([40, 50, 700, 110], "Chère Hélène, l'œuvre coûte 12€"),
            make_line([60, 200, 400, 240], "a<b & (c) \\ d"),
            make_line([60, 300, 300, 330], ""),  # empty lines are skipped
            make_line([80, 400, 760, 480], "dernière ligne"),
        ],
    )
    second = Page(width=400, height=200, lines=[make_line([20, 20, 380, 60], "page deux")])
    return Document(model=MODELS, source="lettre.png", pages=[first, second])


def images(doc: Document, dpi: float | None = None) -> list[Image.Image]:
    out = []
    for page in doc.pages:
        image = Image.new("RGB", (page.width, page.height), "white")
        if dpi:
            image.info["dpi"] = (dpi, dpi)
        out.append(image)
    return out


def chars_with_boxes(text_page) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Every extracted character with its loose box ``(left, bottom, right, top)`` in points.

    The loose box spans the font's descent to ascent and its advance width, which the exporter fits
    to the line box.
    """
    return [
        (text_page.get_text_range(i, 1), text_page.get_charbox(i, loose=True)) for i in range(text_page.count_chars())
    ]


@pytest.mark.parametrize("dpi", [None, 300.0])
def test_text_is_extractable_and_inside_line_boxes(dpi: float | None) -> None:
    doc = document()
    pdf = pdfium.PdfDocument(to_pdf(doc, images(doc, dpi)))
    assert len(pdf) == 2
    scale = 72 / (dpi or DEFAULT_DPI)
    for page, pdf_page in zip(doc.pages, pdf, strict=True):
        width, height = pdf_page.get_size()
        assert (width, height) == pytest.approx((page.width * scale, page.height * scale), abs=0.01)
        text_page = pdf_page.get_textpage()
        chars = chars_with_boxes(text_page)
        text = "".join(c for c, _ in chars)
        cursor = 0
        for line in page.lines:
            if not line.text:
                continue
            start = text.index(line.text, cursor)  # whole line, in reading order
            cursor = start + len(line.text)
            x0, y0, x1, y1 = (v * scale for v in line.box)
            bottom, top = height - y1, height - y0
            for char, (left, low, right, high) in chars[start:cursor]:
                assert x0 - 0.1 <= left < right <= x1 + 0.1, (char, line.text)
                assert bottom - 0.1 <= low < high <= top + 0.1, (char, line.text)
            # the text is stretched to the line: its first and last characters reach the box ends
            assert chars[start][1][0] == pytest.approx(x0, abs=0.1)
            assert chars[cursor - 1][1][2] == pytest.approx(x1, abs=0.1)
        for word in ("Hélène", "l'œuvre", "12€", "a<b", "&", "(c)", "\\", "dernière", "page", "deux"):
            if word in " ".join(ln.text for ln in page.lines):
                assert word in text


def test_text_layer_is_invisible() -> None:
    doc = document()
    pdf = pdfium.PdfDocument(to_pdf(doc, images(doc)))
    rendered = pdf[0].render(scale=0.5).to_pil().convert("L")
    assert rendered.getextrema() == (255, 255)  # a white page stays white: no text is painted


def test_text_objects_use_render_mode_3_and_an_embedded_font() -> None:
    doc = document()
    pdf = pdfium.PdfDocument(to_pdf(doc, images(doc)))
    objects = list(pdf[0].get_objects(filter=[pdfium.raw.FPDF_PAGEOBJ_TEXT]))
    assert len(objects) == 3  # the empty line has none
    for text_object in objects:
        assert pdfium.raw.FPDFTextObj_GetTextRenderMode(text_object.raw) == pdfium.raw.FPDF_TEXTRENDERMODE_INVISIBLE
        assert pdfium.raw.FPDFFont_GetIsEmbedded(pdfium.raw.FPDFTextObj_GetFont(text_object.raw)) == 1


def test_glyphless_font_loads_in_freetype() -> None:
    font = ImageFont.truetype(io.BytesIO(glyphless_font()), 100)
    assert font.getname() == ("HandocrInvisible", "Regular")
    assert font.getmetrics() == (80, 20)  # ascent 800, descent 200 per 1000 units


def test_page_image_is_drawn() -> None:
    doc = document()
    pictures = images(doc)
    pictures[0].paste((0, 0, 0), (0, 0, 400, 300))  # black top-left quarter
    pdf = pdfium.PdfDocument(to_pdf(doc, pictures))
    rendered = pdf[0].render(scale=0.5).to_pil().convert("L")
    w, h = rendered.size
    assert rendered.getpixel((w // 8, h // 8)) < 40
    assert rendered.getpixel((w * 7 // 8, h * 7 // 8)) > 215


def test_registered_and_metadata() -> None:
    doc = document()
    data = get_exporter("pdf").export(doc, images(doc))
    assert data.startswith(b"%PDF-1.7") and data.rstrip().endswith(b"%%EOF")
    pdf = pdfium.PdfDocument(data)
    assert pdf.get_metadata_dict()["Title"] == "lettre.png"
    assert pdf.get_metadata_dict()["Producer"].startswith("handocr")


def test_images_must_match_pages() -> None:
    doc = document()
    with pytest.raises(ValueError):
        to_pdf(doc, images(doc)[:1])
    with pytest.raises(ValueError):
        to_pdf(Document(model=MODELS), [])


def test_characters_outside_the_bmp_become_replacement_characters() -> None:
    ops = line_operators(make_line([0, 0, 100, 10], "a\U0001f600"), 1.0, 100.0)
    assert b"<0061FFFD>" in ops


@pytest.mark.parametrize(("dpi", "expected"), [((300, 300), 300.0), ((72, 72), DEFAULT_DPI), (None, DEFAULT_DPI)])
def test_page_dpi(dpi: tuple[int, int] | None, expected: float) -> None:
    image = Image.new("RGB", (10, 10))
    if dpi:
        image.info["dpi"] = dpi
    assert page_dpi(image) == expected
