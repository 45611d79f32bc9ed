"""IAM in its official layout: forms + form XML, line images + ascii/lines.txt, split lists."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from handocr.datasets import detect_format, load_pages, open_dataset
from handocr.datasets.iam import IamFolder, form_id, parse_lines_txt
from handocr.errors import DatasetError

FORM_XML = """<?xml version="1.0" encoding="ISO-8859-1"?>
<form created="2000-06-26" height="600" id="{fid}" writer-id="{writer}" width="500">
<machine-printed-part><machine-print-line text="A MOVE to stop Mr. Gaitskell"/></machine-printed-part>
<handwritten-part>
<line asx="40" asy="120" dsx="40" dsy="120" id="{fid}-00" text="A MOVE to &quot;stop&quot;" threshold="154">
<word id="{fid}-00-00" tag="AT0" text="A"><cmp height="40" width="20" x="50" y="100"/></word>
<word id="{fid}-00-01" tag="NN1" text="MOVE"><cmp height="30" width="60" x="90" y="105"/>
<cmp height="50" width="30" x="150" y="98"/></word>
</line>
<line asx="40" asy="220" dsx="40" dsy="220" id="{fid}-01" text="Gaitskell from" threshold="154">
<word id="{fid}-01-00" tag="NP0" text="Gaitskell"><cmp height="40" width="120" x="45" y="200"/></word>
</line>
</handwritten-part>
</form>
"""

FORMS = {"a01-000u": "000", "a01-003": "001", "b02-010": "002", "c03-004": "003"}


def _iam(tmp_path: Path, split_lists: bool = False, forms_dir: str = "formsA-D") -> Path:
    root = tmp_path / "iam"
    (root / forms_dir).mkdir(parents=True)
    (root / "xml").mkdir()
    (root / "ascii").mkdir()
    rows = ["#--- lines.txt ---", "# format: a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell|from"]
    for fid, writer in FORMS.items():
        Image.new("L", (500, 600), 255).save(root / forms_dir / f"{fid}.png")
        (root / "xml" / f"{fid}.xml").write_text(FORM_XML.format(fid=fid, writer=writer), encoding="latin-1")
        line_dir = root / "lines" / fid.split("-")[0] / fid
        line_dir.mkdir(parents=True)
        for i, (status, text) in enumerate([("ok", "A|MOVE|to|&quot;stop&quot;"), ("err", "Gaitskell|from")]):
            Image.new("L", (200 + 10 * i, 50), 255).save(line_dir / f"{fid}-0{i}.png")
            rows.append(f"{fid}-0{i} {status} 154 2 50 98 130 52 {text}")
    (root / "ascii" / "lines.txt").write_text("\n".join(rows) + "\n", encoding="latin-1")
    if split_lists:
        (root / "splits").mkdir()
        (root / "splits" / "train.uttlist").write_text("a01-000u-00\na01-000u-01\nb02-010-00\n")
        (root / "splits" / "validation.uttlist").write_text("a01-003-00\n")
        (root / "splits" / "test.uttlist").write_text("c03-004\n")
    return root


def test_forms_give_pages_with_component_union_boxes(tmp_path):
    root = _iam(tmp_path)
    assert detect_format(root) == "iam-forms"
    pages = list(open_dataset(root).pages(None))
    assert [p.page_id for p in pages] == sorted(FORMS)
    page = pages[0]
    assert page.image_path == root / "formsA-D" / "a01-000u.png"
    assert (page.width, page.height) == (500, 600)
    assert page.lines[0].box == (50.0, 98.0, 180.0, 148.0)
    assert page.lines[0].text == 'A MOVE to "stop"'
    assert page.lines[0].line_id == "a01-000u-00"
    # the `err` line keeps its box for detection but has no text to learn from
    assert page.lines[1].box == (45.0, 200.0, 165.0, 240.0) and page.lines[1].text == ""
    # printed text above and the name field below the handwriting are neither lines nor background
    assert page.ignore_regions == [(0.0, 0.0, 500.0, 88.0), (0.0, 250.0, 500.0, 600.0)]


def test_lines_view_reads_line_images_and_skips_err(tmp_path):
    root = _iam(tmp_path)
    assert detect_format(root, prefer="lines") == "iam-lines"
    records = load_pages([root], "all", prefer="lines")
    assert len(records) == len(FORMS)  # one `ok` line per form
    rec = records[0]
    assert rec.image_path == root / "lines" / "a01" / "a01-000u" / "a01-000u-00.png"
    assert (rec.width, rec.height) == (200, 50)
    assert rec.lines[0].box == (0.0, 0.0, 200.0, 50.0)
    assert rec.lines[0].text == 'A MOVE to "stop"'


def test_flat_forms_folder_and_lines_txt_parsing(tmp_path):
    root = _iam(tmp_path, forms_dir="forms")
    assert [p.image_path.parent.name for p in open_dataset(root).pages(None)] == ["forms"] * 4
    rows = parse_lines_txt(root / "ascii" / "lines.txt")
    assert rows[0].line_id == "a01-000u-00" and rows[0].ok and rows[0].box == (50.0, 98.0, 180.0, 150.0)
    assert not rows[1].ok
    assert form_id("a01-000u-00-01") == "a01-000u"


def test_standard_split_lists_select_lines_and_forms(tmp_path):
    root = _iam(tmp_path, split_lists=True)
    train = load_pages([root], "train", prefer="lines")
    assert [r.page_id for r in train] == ["a01-000u-00", "b02-010-00"]  # a01-000u-01 is `err`
    assert [r.page_id for r in load_pages([root], "valid", prefer="lines")] == ["a01-003-00"]
    assert [p.page_id for p in load_pages([root], "test")] == ["c03-004"]  # a form id in the list
    assert [p.page_id for p in load_pages([root], "train")] == ["a01-000u", "b02-010"]
    assert "standard IAM split" in IamFolder(root).split_note("train")


def test_large_writer_independent_task_files(tmp_path):
    root = _iam(tmp_path)
    task = root / "largeWriterIndependentTextLineRecognitionTask"
    task.mkdir()
    (task / "trainset.txt").write_text("a01-000u-00\nc03-004-00\n")
    (task / "validationset1.txt").write_text("b02-010-00\n")
    (task / "testset.txt").write_text("a01-003-00\n")
    assert [r.page_id for r in load_pages([root], "val", prefer="lines")] == ["b02-010-00"]
    assert [p.page_id for p in load_pages([root], "test", prefer="pages")] == ["a01-003"]


def test_without_split_files_the_split_is_by_writer_and_deterministic(tmp_path):
    root = _iam(tmp_path)
    train = {p.page_id for p in load_pages([root], "train")}
    val = {p.page_id for p in load_pages([root], "val")}
    assert train and val and not train & val and train | val == set(FORMS)
    assert val == {p.page_id for p in load_pages([root], "val")}
    val_lines = {r.page_id for r in load_pages([root], "val", prefer="lines")}
    assert {form_id(i) for i in val_lines} == val  # both views agree on the writers
    with pytest.raises(DatasetError):
        load_pages([root], "test")


def test_missing_form_image_raises_or_is_collected(tmp_path):
    root = _iam(tmp_path)
    (root / "formsA-D" / "b02-010.png").unlink()
    with pytest.raises(DatasetError):
        load_pages([root], None)
    errors: list[str] = []
    assert len(list(open_dataset(root).pages(None, errors))) == 3
    assert len(errors) == 1 and "b02-010" in errors[0]


def test_data_check_on_both_views(tmp_path):
    from handocr.datasets.check import check_dataset

    root = _iam(tmp_path, split_lists=True)
    pages = check_dataset(root)
    assert pages.format == "iam-forms" and pages.usable and pages.lines == 8 and pages.lines_with_text == 4
    assert pages.split_pages == {"train": 2, "val": 1, "test": 1}
    lines = check_dataset(root, prefer="lines")
    assert lines.format == "iam-lines" and lines.line_images == 4 and lines.usable_for == ["recognizer"]
