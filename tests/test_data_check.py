"""``handocr data check``: counts, unknown characters, missing images, bad boxes, exit codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from PIL import Image

from handocr.data_cli import add_data_commands
from handocr.datasets.check import check_dataset, format_report
from handocr.recognition.charset import Charset

PAGE = """<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15">
  <Page imageFilename="{name}.jpg" imageWidth="{width}" imageHeight="300">
    <TextRegion id="r1"><Coords points="0,0 400,0 400,300 0,300"/>
      <TextLine id="l1"><Coords points="10,20 300,20 300,60 10,60"/>
        <TextEquiv><Unicode>{text}</Unicode></TextEquiv></TextLine>
      <TextLine id="l2"><Coords points="10,80 300,80 300,120 10,120"/>
        <TextEquiv><Unicode></Unicode></TextEquiv></TextLine>
      <TextLine id="l3"><Coords points="350,200 420,200 420,240 350,240"/>
        <TextEquiv><Unicode>{long}</Unicode></TextEquiv></TextLine>
    </TextRegion>
  </Page>
</PcGts>"""


def _folder(tmp_path: Path, missing: bool = False) -> Path:
    root = tmp_path / "set"
    (root / "page").mkdir(parents=True)
    texts = {"p1": "Ærø ſo ſtrange", "p2": "plain text", "p3": "more"}
    for name, text in texts.items():
        if not (missing and name == "p3"):
            Image.new("RGB", (400, 300), "white").save(root / f"{name}.jpg")
        width = 500 if name == "p2" else 400
        long = "x" * 60 if name == "p1" else "ok"
        (root / "page" / f"{name}.xml").write_text(PAGE.format(name=name, width=width, text=text, long=long))
    return root


def _run(argv: list[str], capsys) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="handocr")
    add_data_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = args.func(args)
    return code, capsys.readouterr().out


def test_report_counts_and_warnings(tmp_path):
    report = check_dataset(_folder(tmp_path))
    assert report.format == "page-xml" and report.usable
    assert (report.pages, report.lines, report.lines_with_text, report.lines_without_text) == (3, 9, 6, 3)
    assert report.unknown_characters == {"ſ": 2}  # Æ and ø are in the default charset
    assert report.split_pages == {"train": 2, "val": 1}
    kinds = set(report.warnings)
    assert "characters outside the recognizer's charset" in kinds
    assert "page size in the XML differs from the image" in kinds
    assert "boxes reaching outside the image (clipped)" in kinds
    assert any("too long" in k for k in kinds)
    assert report.usable_for == ["detector", "recognizer"]
    text = format_report(report)
    assert "verdict: usable" in text and "'ſ'x2" in text


def test_missing_image_is_a_problem_and_exit_code_1(tmp_path, capsys):
    root = _folder(tmp_path, missing=True)
    report = check_dataset(root)
    assert not report.usable and report.problems["missing or unreadable files"].count == 1
    code, out = _run(["data", "check", str(root)], capsys)
    assert code == 1 and "NOT usable" in out
    code, out = _run(["data", "check", str(root), "--json"], capsys)
    data = json.loads(out)
    assert code == 1 and data["usable"] is False and data["pages"] == 2


def test_cli_ok_and_unknown_layout(tmp_path, capsys):
    code, out = _run(["data", "check", str(_folder(tmp_path)), "--split", "train"], capsys)
    assert code == 0 and "split" in out and "pages" in out
    (tmp_path / "empty").mkdir()
    code, out = _run(["data", "check", str(tmp_path / "empty")], capsys)
    assert code == 1 and "no known dataset layout" in out


def test_narrow_charset_and_line_folder_checks(tmp_path):
    root = tmp_path / "lines"
    root.mkdir()
    Image.new("L", (300, 40), 255).save(root / "a.png")
    (root / "a.gt.txt").write_text("abc")
    Image.new("L", (300, 40), 255).save(root / "b.png")
    (root / "b.gt.txt").write_text("")
    Image.new("L", (300, 40), 255).save(root / "c.png")  # no transcription
    (root / "d.png").write_bytes(b"not a png")
    (root / "d.gt.txt").write_text("broken")
    report = check_dataset(root, charset=Charset("ab"), charset_source="test")
    assert report.format == "line-folder" and report.line_images == 2
    assert report.unknown_characters == {"c": 1}
    assert report.warnings["empty transcriptions"].count == 1
    assert report.warnings["line images without a .gt.txt"].count == 1
    assert report.problems["missing or unreadable files"].count == 1
    assert report.usable_for == ["recognizer"]


def test_charset_of_model(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["images"], ["log_probs"])],
        "g",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("log_probs", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    entry = model.metadata_props.add()
    entry.key, entry.value = "charset", Charset("plaintexs ").to_json()
    folder = tmp_path / "rec"
    folder.mkdir()
    onnx.save(model, str(folder / "model.onnx"))
    (folder / "model.json").write_text(json.dumps({"name": "r", "version": "1", "kind": "recognizer"}))
    code, out = _run(["data", "check", str(_folder(tmp_path)), "--charset-of", str(folder), "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["charset_size"] == 10 and "m" in data["unknown_characters"]
    code, _ = _run(["data", "check", str(tmp_path), "--charset-of", str(tmp_path / "nope")], capsys)
    assert code == 2
