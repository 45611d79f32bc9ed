"""PAGE-XML and ALTO as Transkribus and eScriptorium export them: images beside, above or named."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from handocr.datasets import DatasetFolder, detect_format, load_pages
from handocr.errors import DatasetError

PAGE = """<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15">
  <Metadata><Creator>Transkribus</Creator></Metadata>
  <Page imageFilename="{image}" imageWidth="300" imageHeight="200">
    <TextRegion id="r1"><Coords points="0,0 300,0 300,200 0,200"/>
      <TextLine id="l1"><Coords points="10,20 200,20 200,50 10,50"/>
        <TextEquiv><Unicode>Dear Sir {name}</Unicode></TextEquiv></TextLine>
    </TextRegion>
  </Page>
</PcGts>"""

ALTO = """<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#">
  <Description><MeasurementUnit>pixel</MeasurementUnit>
    <sourceImageInformation><fileName>{image}</fileName></sourceImageInformation></Description>
  <Layout><Page WIDTH="300" HEIGHT="200" PHYSICAL_IMG_NR="1" ID="eSc_dummypage_">
    <PrintSpace><TextBlock ID="eSc_dummyblock_">
      <TextLine ID="eSc_line_1" BASELINE="10 45 200 45" HPOS="10" VPOS="20" WIDTH="190" HEIGHT="30">
        <Shape><Polygon POINTS="10 20 200 20 200 50 10 50"/></Shape>
        <String CONTENT="Liebe Mutter {name}" HPOS="10" VPOS="20" WIDTH="190" HEIGHT="30"/></TextLine>
    </TextBlock></PrintSpace></Page></Layout>
</alto>"""

METS = """<?xml version="1.0" encoding="UTF-8"?>
<mets:mets xmlns:mets="http://www.loc.gov/METS/" xmlns:xlink="http://www.w3.org/1999/xlink">
  <mets:fileSec><mets:fileGrp ID="MASTERSANDDERIVATES">
    <mets:fileGrp ID="IMG">{images}</mets:fileGrp>
    <mets:fileGrp ID="PAGEXML">{xmls}</mets:fileGrp>
  </mets:fileGrp></mets:fileSec>
  <mets:structMap ID="TRANSKRIBUS_STRUCTMAP" TYPE="MANUSCRIPT"><mets:div ID="DIV_1" TYPE="MANUSCRIPT">{divs}
  </mets:div></mets:structMap>
</mets:mets>"""


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (300, 200), "white").save(path)


def test_transkribus_document_export_page_folder_below_images(tmp_path):
    doc = tmp_path / "export_job_1" / "12345" / "Letters"
    for i in range(1, 4):
        _image(doc / f"000{i}_letter.jpg")
        (doc / "page").mkdir(exist_ok=True)
        (doc / "page" / f"000{i}_letter.xml").write_text(PAGE.format(image=f"000{i}_letter.jpg", name=i))
    (doc / "metadata.xml").write_text("<trpDocMetadata/>")
    assert detect_format(doc) == "page-xml"
    pages = load_pages([doc], None)
    assert [p.image_path for p in pages] == [doc / f"000{i}_letter.jpg" for i in range(1, 4)]
    # the whole export, several folders down, is found too
    root = tmp_path / "export_job_1"
    assert [p.lines[0].text for p in load_pages([root], None)] == ["Dear Sir 1", "Dear Sir 2", "Dear Sir 3"]


def test_mets_export_pairs_page_files_and_images(tmp_path):
    doc = tmp_path / "doc"
    images = xmls = divs = ""
    for i in range(1, 3):
        _image(doc / "scans" / f"img{i}.jpg")
        (doc / "xml").mkdir(exist_ok=True)
        (doc / "xml" / f"p{i}.xml").write_text(PAGE.format(image=f"C:\\Users\\me\\scans\\img{i}.jpg", name=i))
        locat = '<mets:file ID="{}" MIMETYPE="{}"><mets:FLocat xlink:href="{}"/></mets:file>'
        images += locat.format(f"IMG_{i}", "image/jpeg", f"scans/img{i}.jpg")
        xmls += locat.format(f"PAGEXML_{i}", "application/xml", f"xml/p{i}.xml")
        area = '<mets:fptr><mets:area FILEID="{}"/></mets:fptr>'
        divs += f'<mets:div ID="PAGE_{i}" ORDER="{i}" TYPE="SINGLE_PAGE">'
        divs += area.format(f"IMG_{i}") + area.format(f"PAGEXML_{i}") + "</mets:div>"
    (doc / "mets.xml").write_text(METS.format(images=images, xmls=xmls, divs=divs))
    assert detect_format(doc) == "page-xml+mets"
    pages = load_pages([doc], None)
    assert [p.image_path for p in pages] == [doc / "scans" / "img1.jpg", doc / "scans" / "img2.jpg"]


def test_escriptorium_alto_with_relative_image_path(tmp_path):
    root = tmp_path / "esc"
    for i in range(1, 3):
        _image(root / "images" / f"scan {i}.png")
        (root / "alto").mkdir(exist_ok=True)
        (root / "alto" / f"export_{i}.xml").write_text(ALTO.format(image=f"../images/scan {i}.png", name=i))
    assert detect_format(root) == "alto"
    pages = load_pages([root], None)
    assert pages[0].image_path == root / "images" / "scan 1.png"
    assert pages[0].lines[0].text == "Liebe Mutter 1" and pages[0].lines[0].baseline[0] == (10.0, 45.0)


def test_flat_folder_of_xml_beside_images_and_file_uri(tmp_path):
    root = tmp_path / "flat"
    _image(root / "a.jpg")
    (root / "a.xml").write_text(ALTO.format(image=(root / "a.jpg").as_uri(), name="a"))
    assert load_pages([root], None)[0].image_path == root / "a.jpg"


def test_deterministic_page_split_without_split_json(tmp_path):
    root = tmp_path / "many"
    for i in range(20):
        _image(root / f"p{i:02d}.jpg")
        (root / "page").mkdir(exist_ok=True)
        (root / "page" / f"p{i:02d}.xml").write_text(PAGE.format(image=f"p{i:02d}.jpg", name=i))
    train = {p.stem for p in load_pages([root], "train")}
    val = {p.stem for p in load_pages([root], "val")}
    assert len(val) == 2 and not train & val and len(train | val) == 20
    assert val == {p.stem for p in DatasetFolder(root).pages("val")}
    with pytest.raises(DatasetError):
        load_pages([root], "test")


def test_unknown_layout_raises(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError):
        load_pages([tmp_path / "x"], None)
    with pytest.raises(DatasetError):
        load_pages([tmp_path / "missing"], None)


def test_namespace_prefixed_page_xml_and_missing_page_size(tmp_path):
    root = tmp_path / "prefixed"
    _image(root / "a.jpg")
    text = PAGE.replace("<PcGts xmlns=", "<pc:PcGts xmlns:pc=").replace("</PcGts>", "</pc:PcGts>")
    text = text.replace("<Metadata>", "<pc:Metadata>").replace("</Metadata>", "</pc:Metadata>")
    for tag in ("Creator", "Page", "TextRegion", "Coords", "TextLine", "TextEquiv", "Unicode"):
        text = text.replace(f"<{tag}", f"<pc:{tag}").replace(f"</{tag}>", f"</pc:{tag}>")
    text = text.replace('imageWidth="300" imageHeight="200"', "")
    (root / "a.xml").write_text(text.format(image="a.jpg", name="x"))
    (page,) = load_pages([root], None)
    assert (page.width, page.height) == (300, 200) and page.lines[0].text == "Dear Sir x"
