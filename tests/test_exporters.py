"""Tests of the hOCR, ALTO and PAGE-XML exporters: structure, escaping, multi-page, round trips."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from handocr.datasets.collection import read_page_file
from handocr.exporters import EXPORTERS, get_exporter
from handocr.exporters._tree import xml_text
from handocr.exporters.alto import ALTO_NS, to_alto
from handocr.exporters.hocr import XHTML, to_hocr
from handocr.exporters.pagexml import PAGE_NS, pagexml_pages, to_pagexml
from handocr.pipeline import Reader
from handocr.schema import Document, Line, ModelInfo, Models, Page, Paragraph, Word

MODELS = Models(detector=ModelInfo(name="det", version="1"), recognizer=ModelInfo(name="rec", version="2"))
TRICKY = "a<b & \"c\" 'd' é œ € ß 中"


def line(box: list[int], words: list[str], confidence: float = 0.8) -> Line:
    """A line over ``box`` whose words share its width evenly."""
    x0, y0, x1, y1 = box
    step = (x1 - x0) // len(words)
    items = [
        Word(box=[x0 + i * step, y0, x0 + (i + 1) * step - 4, y1], text=text, confidence=0.5 + i / 20)
        for i, text in enumerate(words)
    ]
    return Line(box=box, text=" ".join(words), confidence=confidence, det_score=0.9, words=items)


def first_page() -> Page:
    """Two paragraphs of two lines, then a line without words that no paragraph holds."""
    lines = [
        line([20, 30, 380, 60], ["Chère", "Hélène,", "voilà"]),
        line([20, 70, 300, 100], ["l'œuvre", "coûte", "12€"]),
        line([20, 140, 360, 170], ["a<b", "&", '"quoted"']),
        line([20, 180, 250, 210], ["Straße", "中文"]),
        Line(box=[20, 240, 200, 270], text="no words here", confidence=0.3, det_score=0.6, needs_review=True),
    ]
    paragraphs = [Paragraph(box=[20, 30, 380, 100], lines=[0, 1]), Paragraph(box=[20, 140, 360, 210], lines=[2, 3])]
    return Page(width=400, height=300, lines=lines, paragraphs=paragraphs)


def second_page() -> Page:
    return Page(width=200, height=100, lines=[line([10, 10, 190, 40], ["page", "deux"])])


@pytest.fixture
def document() -> Document:
    return Document(model=MODELS, source="scan é&1.png", pages=[first_page(), second_page()])


def parse(data: bytes) -> ET.Element:
    """Parse ``data`` as XML (fails the test when it is not well-formed)."""
    return ET.fromstring(data)


def test_registry_has_every_format() -> None:
    assert {"json", "text", "overlay", "hocr", "alto", "page", "pdf"} <= set(EXPORTERS)
    assert (get_exporter("hocr").suffix, get_exporter("hocr").media_type.split(";")[0]) == (".hocr", "text/html")
    assert get_exporter("alto").suffix == ".alto.xml"
    assert get_exporter("page").suffix == ".page.xml"
    assert (get_exporter("pdf").suffix, get_exporter("pdf").media_type) == (".pdf", "application/pdf")


# hOCR


def _title(element: ET.Element) -> dict[str, str]:
    parts = (p.strip().split(" ", 1) for p in element.get("title", "").split(";") if p.strip())
    return {key: value for key, value in parts}


def test_hocr_structure(document: Document) -> None:
    data = to_hocr(document, [])
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html')
    root = parse(data)
    ns = {"h": XHTML}
    assert root.tag == f"{{{XHTML}}}html"
    systems = root.findall(".//h:meta[@name='ocr-system']", ns)
    assert systems and systems[0].get("content").startswith("handocr")
    pages = root.findall(".//h:div[@class='ocr_page']", ns)
    assert len(pages) == 2
    assert _title(pages[0])["bbox"] == "0 0 400 300"
    assert _title(pages[1])["bbox"] == "0 0 200 100"
    assert _title(pages[0])["image"] == '"scan é&1.png"'
    assert _title(pages[1])["ppageno"] == "1"
    assert len(pages[0].findall(".//h:p[@class='ocr_par']", ns)) == 3  # two paragraphs and a lone line
    lines = pages[0].findall(".//h:span[@class='ocr_line']", ns)
    assert [_title(el)["bbox"] for el in lines] == [" ".join(map(str, ln.box)) for ln in document.pages[0].lines]
    for el, expected in zip(lines, document.pages[0].lines, strict=True):
        words = el.findall("h:span[@class='ocrx_word']", ns)
        assert " ".join(w.text for w in words) == expected.text
        for w in words:
            confidence = int(_title(w)["x_wconf"])
            assert 0 <= confidence <= 100
            assert re.fullmatch(r"\d+ \d+ \d+ \d+", _title(w)["bbox"])
    first_word = lines[0].find("h:span", ns)
    assert _title(first_word) == {"bbox": "20 30 136 60", "x_wconf": "50"}


def test_hocr_lone_line_without_words_is_one_word(document: Document) -> None:
    root = parse(to_hocr(document, []))
    last = root.findall(f".//{{{XHTML}}}span[@class='ocr_line']")[4]
    (word,) = list(last)
    assert word.text == "no words here"
    assert _title(word) == {"bbox": "20 240 200 270", "x_wconf": "30"}


# ALTO


def test_alto_structure(document: Document) -> None:
    root = parse(to_alto(document, []))
    ns = {"a": ALTO_NS}
    assert root.tag == f"{{{ALTO_NS}}}alto"
    assert root.findtext("a:Description/a:MeasurementUnit", namespaces=ns) == "pixel"
    assert root.findtext("a:Description/a:sourceImageInformation/a:fileName", namespaces=ns) == "scan é&1.png"
    pages = root.findall("a:Layout/a:Page", ns)
    assert [(p.get("WIDTH"), p.get("HEIGHT")) for p in pages] == [("400", "300"), ("200", "100")]
    blocks = pages[0].findall(".//a:TextBlock", ns)
    assert len(blocks) == 3
    assert [blocks[0].get(k) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT")] == ["20", "30", "360", "70"]
    lines = pages[0].findall(".//a:TextLine", ns)
    assert [ln.get(k) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT") for ln in lines[:1]] == ["20", "30", "360", "30"]
    first = lines[0]
    assert [child.tag.split("}")[1] for child in first] == ["String", "SP", "String", "SP", "String"]
    string = first.find("a:String", ns)
    assert string.get("CONTENT") == "Chère"
    assert float(string.get("WC")) == pytest.approx(0.5)
    assert [string.get(k) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT")] == ["20", "30", "116", "30"]
    assert first.find("a:SP", ns).get("HPOS") == "136"
    contents = [s.get("CONTENT") for s in lines[2].findall("a:String", ns)]
    assert contents == ["a<b", "&", '"quoted"']


def test_alto_without_source_has_no_file_name(document: Document) -> None:
    root = parse(to_alto(document.model_copy(update={"source": None}), []))
    assert root.find(f".//{{{ALTO_NS}}}sourceImageInformation") is None


# PAGE-XML


def test_pagexml_structure(document: Document) -> None:
    root = parse(to_pagexml(document, []))
    ns = {"p": PAGE_NS}
    assert root.tag == f"{{{PAGE_NS}}}PcGts"
    assert root.findtext("p:Metadata/p:Creator", namespaces=ns).startswith("handocr")
    page = root.find("p:Page", ns)
    assert (page.get("imageFilename"), page.get("imageWidth"), page.get("imageHeight")) == (
        "scan é&1.png",
        "400",
        "300",
    )
    regions = page.findall("p:TextRegion", ns)
    refs = page.findall("p:ReadingOrder/p:OrderedGroup/p:RegionRefIndexed", ns)
    assert [r.get("regionRef") for r in refs] == [r.get("id") for r in regions]
    assert [r.get("index") for r in refs] == ["0", "1", "2"]
    assert regions[0].find("p:Coords", ns).get("points") == "20,30 380,30 380,100 20,100"
    lines = page.findall(".//p:TextLine", ns)
    assert len(lines) == 5
    assert lines[0].find("p:Coords", ns).get("points") == "20,30 380,30 380,60 20,60"
    assert lines[0].findtext("p:TextEquiv/p:Unicode", namespaces=ns) == "Chère Hélène, voilà"
    assert float(lines[0].find("p:TextEquiv", ns).get("conf")) == pytest.approx(0.8)
    words = lines[2].findall("p:Word", ns)
    assert [w.findtext("p:TextEquiv/p:Unicode", namespaces=ns) for w in words] == ["a<b", "&", '"quoted"']
    assert words[0].find("p:Coords", ns).get("points") == "20,140 129,140 129,170 20,170"
    assert float(words[1].find("p:TextEquiv", ns).get("conf")) == pytest.approx(0.55)
    # child order the schema asks for: Coords, Word*, TextEquiv
    assert [c.tag.split("}")[1] for c in lines[0]] == ["Coords", "Word", "Word", "Word", "TextEquiv"]


def test_pagexml_multi_page(document: Document) -> None:
    data = to_pagexml(document, [])
    assert b"1 more page(s) not written" in data
    files = pagexml_pages(document)
    assert len(files) == 2
    second = parse(files[1]).find(f"{{{PAGE_NS}}}Page")
    assert (second.get("imageWidth"), second.get("imageHeight")) == ("200", "100")
    assert b"more page" not in files[1]


def test_empty_document() -> None:
    empty = Document(model=MODELS)
    assert parse(to_hocr(empty, [])).find(f".//{{{XHTML}}}body") is not None
    assert parse(to_alto(empty, [])).find(f"{{{ALTO_NS}}}Layout") is not None
    with pytest.raises(ValueError):
        to_pagexml(empty, [])


# escaping


@pytest.mark.parametrize("name", ["hocr", "alto", "page"])
def test_xml_escaping_and_forbidden_characters(name: str) -> None:
    text = TRICKY + " ctrl\x01\x0b]]>"
    words = text.split(" ")
    page = Page(width=500, height=100, lines=[line([0, 0, 500, 50], words)])
    source = 'we"ird <name> & é.png'
    data = get_exporter(name).export(Document(model=MODELS, source=source, pages=[page]), [])
    assert b"\x01" not in data and b"\x0b" not in data
    root = parse(data)  # well-formed
    texts = "".join(root.itertext()) + " ".join(v for el in root.iter() for v in el.attrib.values())
    for word in TRICKY.split(" "):
        assert word in texts
    assert "ctrl]]>" in texts
    assert data.decode("utf-8")  # UTF-8 throughout


@settings(max_examples=100, deadline=None)
@given(words=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=4))
def test_any_text_gives_well_formed_xml_that_keeps_it(words: list[str]) -> None:
    page = Page(width=500, height=100, lines=[line([0, 0, 500, 50], words)])
    document = Document(model=MODELS, source=words[0], pages=[page])
    for name in ("hocr", "alto", "page"):
        root = parse(get_exporter(name).export(document, []))
        values = [v for el in root.iter() for v in el.attrib.values()] + [el.text or "" for el in root.iter()]
        everything = "\x00".join(values)
        for word in words:
            kept = xml_text(word)
            # XML parsers turn a carriage return in text (not in attributes) into a newline
            assert kept in everything or kept.replace("\r\n", "\n").replace("\r", "\n") in everything


# round trips through our own dataset readers


def _write_pair(tmp_path: Path, document: Document, data: bytes, suffix: str) -> Path:
    image = Image.new("RGB", (document.pages[0].width, document.pages[0].height), "white")
    image.save(tmp_path / document.source)
    xml_path = tmp_path / f"scan{suffix}"
    xml_path.write_bytes(data)
    return xml_path


@pytest.mark.parametrize(("name", "suffix"), [("alto", ".alto.xml"), ("page", ".page.xml")])
def test_round_trip_through_dataset_reader(tmp_path: Path, name: str, suffix: str) -> None:
    document = Document(model=MODELS, source="scan-é.png", pages=[first_page(), second_page()])
    data = get_exporter(name).export(document, [])
    xml_path = _write_pair(tmp_path, document, data, suffix)
    record = read_page_file(xml_path)
    expected = document.pages[0]
    assert record.image_path == tmp_path / "scan-é.png"
    assert (record.width, record.height) == (expected.width, expected.height)
    assert [rec.text for rec in record.lines] == [ln.text for ln in expected.lines]
    assert [list(rec.box) for rec in record.lines] == [ln.box for ln in expected.lines]
    assert all(isinstance(v, float) and v.is_integer() for rec in record.lines for v in rec.box)


# every registered format over a document from the (fake) pipeline


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_every_format_exports_a_pipeline_document(name: str, reader: Reader, page_image: Image.Image) -> None:
    images = [page_image, page_image.resize((200, 150))]
    document = reader.read_images(images, source="two pages.tif")
    assert len(document.pages) == 2 and document.pages[0].lines
    data = get_exporter(name).export(document, images)
    assert isinstance(data, bytes) and data
    if name in {"hocr", "alto", "page"}:
        texts = "".join(parse(data).itertext()) + " ".join(v for el in parse(data).iter() for v in el.attrib.values())
        assert "hello" in texts and "world" in texts


def test_overlay_shades_the_words_flagged_for_review() -> None:
    from handocr.exporters.overlay import REVIEW_FILL, draw_page

    flagged = Word(box=[40, 40, 80, 60], text="doubt", confidence=0.2, needs_review=True)
    sure = Word(box=[100, 40, 140, 60], text="sure", confidence=0.99)
    page = Page(
        width=200,
        height=100,
        lines=[Line(box=[30, 35, 150, 65], text="doubt sure", confidence=0.6, det_score=0.9, words=[flagged, sure])],
    )
    drawn = draw_page(page, Image.new("RGB", (200, 100), "white"))
    inside_flagged, inside_sure = drawn.getpixel((60, 55)), drawn.getpixel((120, 55))
    assert inside_sure == (255, 255, 255)
    assert inside_flagged != (255, 255, 255) and inside_flagged[0] > inside_flagged[2]  # amber: more red than blue
    assert REVIEW_FILL[3] < 255  # translucent: the ink stays readable


def test_the_page_language_reaches_alto_hocr_and_page(document: Document) -> None:
    french = document.model_copy(update={"pages": [first_page().model_copy(update={"language": "fr"}), second_page()]})
    alto = parse(to_alto(french, []))
    langs = [[b.get("LANG") for b in p.iter(f"{{{ALTO_NS}}}TextBlock")] for p in alto.iter(f"{{{ALTO_NS}}}Page")]
    assert langs == [["fr", "fr", "fr"], [None]]
    pages = [el for el in parse(to_hocr(french, [])).iter() if el.get("class") == "ocr_page"]
    assert [p.get("lang") for p in pages] == ["fr", None]
    assert parse(to_pagexml(french, [])).find(f"{{{PAGE_NS}}}Page").get("primaryLanguage") == "French"
    for language in ("xx", None):  # a code the schema has no name for, and the general decoder
        other = french.model_copy(update={"pages": [first_page().model_copy(update={"language": language})]})
        assert parse(to_pagexml(other, [])).find(f"{{{PAGE_NS}}}Page").get("primaryLanguage") is None
