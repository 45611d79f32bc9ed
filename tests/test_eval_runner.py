"""``handocr eval``'s runner on a small YOLO folder with line texts (the synthetic generator's layout)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import draw_page
from fakes import fake_reader
from handocr.evaluation.runner import evaluate_folder


def _yolo_folder(root: Path, pages: int = 2) -> Path:
    """Pages of three ink bars; labels box the bars, texts name them; the third line has no text."""
    for part in ("images", "labels", "texts"):
        (root / part / "val").mkdir(parents=True)
    for n in range(pages):
        image = draw_page()
        image.save(root / "images" / "val" / f"p{n}.png")
        rows, texts = [], []
        for i in range(3):
            y0, y1, x1 = 40 + i * 70, 40 + i * 70 + 26, 400 - 40 - 20 * i + 1
            rows.append(f"0 {(30 + x1) / 2 / 400:.6f} {(y0 + y1) / 2 / 300:.6f} {(x1 - 30) / 400:.6f} {26 / 300:.6f}")
            texts.append("hello world" if i < 2 else "")
        (root / "labels" / "val" / f"p{n}.txt").write_text("\n".join(rows) + "\n")
        (root / "texts" / "val" / f"p{n}.txt").write_text("\n".join(texts) + "\n")
    (root / "data.yaml").write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n  0: line\n")
    return root


def test_a_yolo_folder_with_texts_is_scored_like_a_page_xml_set(tmp_path):
    folder = _yolo_folder(tmp_path / "synth")
    result = evaluate_folder(fake_reader("hello world", 0.9), folder, "val")
    assert result["pages"] == 2
    detection = result["detection"]
    assert detection["gt_lines"] == 6 and detection["recall"] == 1.0 and detection["precision"] == 1.0
    assert detection["map50"] == pytest.approx(1.0)
    lines = result["lines_on_gt_boxes"]
    assert lines["lines"] == 4 and lines["cer"] == 0.0  # the empty-text lines are not scored
    assert lines["cer_ci95"] == lines["wer_ci95"] == [0.0, 0.0]
    page = result["page_end_to_end"]
    assert page["cer"] == page["cer_in_true_order"] == page["cer_on_gt_boxes"] == 0.0  # empty-text line left out
    assert result["reading_order"]["pages_in_order"] == 1.0
    review = result["review"]
    assert review["lines"]["n"] == 4 and review["lines"]["at_threshold"]["flagged"] == 0.0
    assert review["words"]["n"] == 8


def test_wrong_text_shows_in_every_text_score(tmp_path):
    folder = _yolo_folder(tmp_path / "synth", pages=1)
    result = evaluate_folder(fake_reader("hello there", 0.3), folder, "val")
    assert result["lines_on_gt_boxes"]["cer"] == pytest.approx(5 / 11)  # "world" -> "there": 5 edits
    assert result["lines_on_gt_boxes"]["wer"] == pytest.approx(0.5)
    assert result["lines_on_gt_boxes"]["cer_ci95"] == pytest.approx([5 / 11, 5 / 11])  # one page: no spread
    page = result["page_end_to_end"]
    assert page["cer"] == page["cer_in_true_order"] == page["cer_on_gt_boxes"] == pytest.approx(10 / 23)
    assert result["review"]["lines"]["at_threshold"]["flagged"] == 1.0  # 0.3 < the 0.5 default
    assert result["review"]["words"]["at_threshold"]["errors_caught"] == 1.0


def test_the_results_table_shows_the_intervals(tmp_path):
    import importlib.util

    folder = _yolo_folder(tmp_path / "synth", pages=1)
    result = evaluate_folder(fake_reader("hello there", 0.3), folder, "val")
    script = Path(__file__).resolve().parent.parent / "scripts" / "results_table.py"
    spec = importlib.util.spec_from_file_location("results_table", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    row = module.table({"sets": [result]}).splitlines()[2]
    assert "| 45.5% [45.5, 45.5] |" in row  # line CER 5/11, one page: no spread
    del result["lines_on_gt_boxes"]["cer_ci95"]  # a file from before the intervals
    assert "| 45.5% |" in module.table({"sets": [result]}).splitlines()[2]
