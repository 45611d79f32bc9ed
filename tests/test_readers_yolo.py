"""YOLO detection folders: boxes only, split by folder, both Ultralytics and Roboflow nesting."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from handocr.datasets import detect_format, load_pages
from handocr.datasets.yolo import label_path
from handocr.errors import DatasetError


def _yolo(tmp_path: Path, roboflow: bool = False, yaml: bool = True) -> Path:
    root = tmp_path / "yolo"
    for split, names in (("train", ["p1", "p2"]), ("val", ["p3"])):
        part = "valid" if roboflow and split == "val" else split
        images = root / part / "images" if roboflow else root / "images" / part
        labels = root / part / "labels" if roboflow else root / "labels" / part
        images.mkdir(parents=True)
        labels.mkdir(parents=True)
        for name in names:
            Image.new("RGB", (400, 200), "white").save(images / f"{name}.jpg")
            if name != "p2":  # p2 has no label file: a page without lines
                (labels / f"{name}.txt").write_text("0 0.5 0.25 0.5 0.1\n1 0.1 0.5 0.3 0.5 0.3 0.7 0.1 0.7\n")
    if yaml:
        val = "valid/images" if roboflow else "images/val"
        train = "train/images" if roboflow else "images/train"
        (root / "data.yaml").write_text(f"path: .\ntrain: {train}\nval: {val}\nnames:\n  0: line\n  1: line2\n")
    return root


@pytest.mark.parametrize("roboflow", [False, True])
@pytest.mark.parametrize("yaml", [False, True])
def test_yolo_boxes_in_pixels_and_splits(tmp_path, roboflow, yaml):
    root = _yolo(tmp_path, roboflow, yaml)
    assert detect_format(root) == "yolo"
    train = load_pages([root], "train")
    assert [p.stem for p in train] == ["p1", "p2"]
    assert train[1].lines == []
    p1 = train[0]
    assert (p1.width, p1.height) == (400, 200)
    assert p1.lines[0].box == pytest.approx((100.0, 40.0, 300.0, 60.0))
    assert p1.lines[1].box == pytest.approx((40.0, 100.0, 120.0, 140.0)) and len(p1.lines[1].polygon) == 4
    assert all(line.text == "" for line in p1.lines)
    assert [p.stem for p in load_pages([root], "val")] == ["p3"]
    assert len(load_pages([root], "all")) == 3
    with pytest.raises(DatasetError):
        load_pages([root], "test")


def test_label_path_rule():
    assert label_path(Path("/d/images/train/a.b.jpg")) == Path("/d/labels/train/a.b.txt")
    assert label_path(Path("/d/train/images/x.png")) == Path("/d/train/labels/x.txt")


def test_bad_label_row_raises(tmp_path):
    root = _yolo(tmp_path)
    (root / "labels" / "val" / "p3.txt").write_text("0 0.5 0.5\n")
    with pytest.raises(DatasetError):
        load_pages([root], "val")


def test_yolo_pages_write_back_as_detector_labels(tmp_path):
    from handocr.training.detector import yolo_labels

    (p1,) = [p for p in load_pages([_yolo(tmp_path)], "train") if p.lines]
    first = yolo_labels(p1).splitlines()[0].split()
    assert [float(v) for v in first[1:]] == pytest.approx([0.5, 0.25, 0.5, 0.1])
