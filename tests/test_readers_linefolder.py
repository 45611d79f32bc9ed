"""Line folders (Kraken/Tesseract/Calamari ``.png`` + ``.gt.txt``) become whole-image line records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from handocr.datasets import detect_format, load_pages, open_dataset
from handocr.datasets.linefolder import is_line_image, line_image_record
from handocr.errors import DatasetError


def _line(path: Path, text: str, size: tuple[int, int] = (240, 40)) -> None:
    image = Image.new("L", size, 230)
    # a stroke of ink to the very left and right edges, paper above and below
    ImageDraw.Draw(image).rectangle((0, size[1] // 2 - 4, size[0] - 1, size[1] // 2 + 4), fill=20)
    image.save(path)
    path.with_name(path.name.split(".")[0] + ".gt.txt").write_text(text + "\n", encoding="utf-8")


def _flat(tmp_path: Path, n: int = 12) -> Path:
    root = tmp_path / "lines"
    root.mkdir()
    for i in range(n):
        _line(root / f"line_{i:03d}.png", f"Zeile {i} größer")
    return root


def test_flat_folder_reads_every_pair(tmp_path):
    root = _flat(tmp_path)
    (root / "odd.jpg").write_bytes(b"")  # an image without .gt.txt is ignored by the reader
    assert detect_format(root) == "line-folder"
    records = load_pages([root], "all")
    assert len(records) == 12
    rec = records[0]
    assert is_line_image(rec) and rec.lines[0].text == "Zeile 0 größer"
    assert rec.lines[0].box == (0.0, 0.0, 240.0, 40.0)
    assert open_dataset(root).orphan_images() == [root / "odd.jpg"]


def test_ocropus_subfolders_and_bin_png(tmp_path):
    root = tmp_path / "book"
    for page in ("0001", "0002", "0003"):
        (root / page).mkdir(parents=True)
        for i in range(3):
            _line(root / page / f"01000{i}.bin.png", f"{page} {i}")
    records = load_pages([root], None)
    assert len(records) == 9 and records[0].image_path.name == "010000.bin.png"
    train = load_pages([root], "train")
    val = load_pages([root], "val")
    assert len(train) + len(val) == 9 and len(val) == 3  # one whole page folder
    assert len({r.image_path.parent for r in val}) == 1


def test_split_json_and_split_subfolders(tmp_path):
    root = _flat(tmp_path, 4)
    (root / "split.json").write_text(json.dumps({"train": ["line_000", "line_001"], "val": ["line_003"]}))
    assert [r.page_id for r in load_pages([root], "val")] == ["line_003"]
    other = tmp_path / "other"
    for part in ("train", "val"):
        (other / part).mkdir(parents=True)
        _line(other / part / f"{part}1.png", part)
    assert [r.lines[0].text for r in load_pages([other], "val")] == ["val"]


def test_deterministic_split_of_a_flat_folder(tmp_path):
    root = _flat(tmp_path, 20)
    train = {r.page_id for r in load_pages([root], "train")}
    val = {r.page_id for r in load_pages([root], "val")}
    assert len(val) == 2 and not train & val and len(train | val) == 20
    with pytest.raises(DatasetError):
        load_pages([root], "test")


def test_cut_lines_pads_line_images_with_paper(tmp_path):
    pytest.importorskip("torch")
    from handocr.training.line_data import STORE_HEIGHT, base_crop, cut_lines

    root = _flat(tmp_path, 1)
    (sample,) = cut_lines(load_pages([root], None))
    assert sample.gray.shape[0] == STORE_HEIGHT and sample.text == "Zeile 0 größer"
    assert int(np.median(sample.gray[:, :2])) == 230  # a margin of paper left of the ink
    crop = base_crop(sample)
    assert crop.min() < 60 and crop.shape[1] > 240 * STORE_HEIGHT / 56 * 0.9


def test_line_image_record_reads_size(tmp_path):
    _line(tmp_path / "a.png", "x", (77, 33))
    rec = line_image_record(tmp_path / "a.png", "x")
    assert (rec.width, rec.height) == (77, 33) and rec.lines[0].line_id == "a"


def test_holdout_keeps_the_lines_of_a_page_folder_together(tmp_path):
    pytest.importorskip("torch")
    from handocr.training.recognizer import split_holdout

    root = tmp_path / "book"
    for page in ("p1", "p2", "p3", "p4"):
        (root / page).mkdir(parents=True)
        for i in range(3):
            _line(root / page / f"{i}.png", f"{page} {i}")
    train, held = split_holdout(load_pages([root], None), 0.25, seed=0)
    assert len(held) == 3 and len({r.image_path.parent for r in held}) == 1
    assert not {r.image_path.parent for r in held} & {r.image_path.parent for r in train}
