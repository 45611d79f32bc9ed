import json
from pathlib import Path

import pytest
from PIL import Image

from handocr.datasets import DatasetFolder, read_page_file, recognition_target
from handocr.datasets.collection import is_label_line
from handocr.errors import DatasetError

ALTO = """<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#">
  <Description><sourceImageInformation><fileName>{name}.jpg</fileName></sourceImageInformation></Description>
  <Layout><Page WIDTH="400" HEIGHT="300"><PrintSpace>
    <TextBlock ID="b1">
      <TextLine ID="l0" HPOS="250" VPOS="10" WIDTH="120" HEIGHT="20">
        <Shape><Polygon POINTS="250 10 370 10 370 30 250 30"/></Shape>
        <String CONTENT="wikitexte_0042"/></TextLine>
      <TextLine ID="l1" HPOS="20" VPOS="100" WIDTH="300" HEIGHT="30" BASELINE="20 125 320 125">
        <Shape><Polygon POINTS="20 100 320 100 320 130 20 130"/></Shape>
        <String CONTENT="Chère"/><SP/><String CONTENT="amie &amp; œuvre"/></TextLine>
      <TextLine ID="l2" HPOS="20" VPOS="150" WIDTH="200" HEIGHT="30">
        <String CONTENT=""/></TextLine>
    </TextBlock>
  </PrintSpace></Page></Layout>
</alto>"""

PAGE = """<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15">
  <Page imageFilename="{name}.jpg" imageWidth="400" imageHeight="300">
    <TextRegion id="r1"><Coords points="0,0 400,0 400,300 0,300"/>
      <TextLine id="r1l1"><Coords points="10,20 200,25 190,60 12,55"/>
        <Baseline points="10,50 200,50"/>
        <TextEquiv><Unicode>My dear Dyer [sic] ^yrs</Unicode></TextEquiv></TextLine>
      <TextLine id="r1l2"><Coords points="10,80 300,80 300,120 10,120"/>
        <TextEquiv><Unicode></Unicode></TextEquiv></TextLine>
    </TextRegion>
  </Page>
</PcGts>"""


def _dataset(tmp_path: Path, kind: str) -> Path:
    root = tmp_path / kind
    (root / "images").mkdir(parents=True)
    (root / kind).mkdir()
    for name in ("p1", "p2"):
        Image.new("RGB", (400, 300), "white").save(root / "images" / f"{name}.jpg")
        text = (ALTO if kind == "alto" else PAGE).replace("{name}", name)
        (root / kind / f"{name}.xml").write_text(text, encoding="utf-8")
    (root / "split.json").write_text(json.dumps({"train": ["p1"], "val": ["p2"]}))
    return root


def test_alto_lines_boxes_text_and_polygons(tmp_path):
    root = _dataset(tmp_path, "alto")
    page = read_page_file(root / "alto" / "p1.xml", [root / "images"])
    assert (page.width, page.height) == (400, 300)
    assert [ln.text for ln in page.lines] == ["wikitexte_0042", "Chère amie & œuvre", ""]
    assert page.lines[1].box == (20, 100, 320, 130)
    assert page.lines[1].polygon[0] == (20, 100)
    assert page.lines[1].baseline == ((20, 125), (320, 125))
    assert page.image_path == root / "images" / "p1.jpg"


def test_pagexml_lines_take_box_from_polygon(tmp_path):
    root = _dataset(tmp_path, "page")
    page = read_page_file(root / "page" / "p1.xml", [root / "images"])
    assert [ln.text for ln in page.lines] == ["My dear Dyer [sic] ^yrs", ""]
    assert page.lines[0].box == (10, 20, 200, 60)
    assert len(page.lines[0].polygon) == 4


def test_split_and_conventions(tmp_path):
    root = _dataset(tmp_path, "alto")
    pages = list(DatasetFolder(root).pages("val"))
    assert [p.stem for p in pages] == ["p2"]
    # printed band above the first handwritten line is ignored; the label line stays a line
    assert pages[0].ignore_regions == [(0.0, 0.0, 400.0, 100.0)]
    assert len(pages[0].lines) == 3


def test_unknown_split_and_missing_folder_raise(tmp_path):
    root = _dataset(tmp_path, "page")
    with pytest.raises(DatasetError):
        list(DatasetFolder(root).pages("test"))
    with pytest.raises(DatasetError):
        list(DatasetFolder(tmp_path / "nothing").pages(None))


def test_malformed_xml_raises_dataset_error(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<alto><Page")
    with pytest.raises(DatasetError):
        read_page_file(bad)


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("My dear Dyer [sic] ^yrs", "My dear Dyer yrs"),
        ("imp_wikitexte_0022", None),
        ("a >crossed< word", None),
        ("unreadable >< here", None),
        ("   ", None),
        ("Chère  amie", "Chère amie"),
    ],
)
def test_recognition_targets(text, target):
    assert recognition_target(text) == target


def test_label_lines():
    assert is_label_line("wikitexte_0042") and is_label_line("imp_wikitexte_7")
    assert not is_label_line("the wikitexte_1 page")
