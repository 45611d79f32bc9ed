"""The recognizer's crop trim: rows left out at the top and bottom of each crop before reading."""

from __future__ import annotations

import json

import numpy as np
import pytest

from handocr.models import find_model, load_recognizer
from handocr.recognition.preprocess import trim_rows


def test_trim_rows_cuts_a_share_of_the_height_from_each_edge():
    crop = np.arange(50 * 3, dtype=np.uint8).reshape(50, 3)
    assert trim_rows(crop, 0.0) is crop
    trimmed = trim_rows(crop, 0.1)
    assert trimmed.shape == (40, 3) and (trimmed == crop[5:45]).all()
    tiny = crop[:2]
    assert trim_rows(tiny, 0.4) is tiny  # one row would be cut from each side of two: kept whole


@pytest.fixture(scope="module")
def recognizer():
    return load_recognizer("line-recognizer", threads=1)


def test_the_shipped_recognizer_takes_its_trim_from_model_json(recognizer):
    settings = json.loads((find_model("line-recognizer").folder / "model.json").read_text())
    assert recognizer.crop_trim == settings.get("crop_trim", 0.0)


def test_a_trimmed_crop_is_read_as_its_middle_rows(recognizer):
    rng = np.random.default_rng(0)
    crop = np.full((60, 300), 235, np.uint8)
    crop[22:38, 20:280:9] = 20  # strokes in the middle rows
    crop[:9] = rng.integers(0, 255, (9, 300))  # a neighbour's descenders along the top edge
    crop[-9:] = rng.integers(0, 255, (9, 300))
    saved = recognizer.crop_trim
    try:
        recognizer.crop_trim = 0.15
        trimmed = recognizer.log_probs([crop])[0]
        recognizer.crop_trim = 0.0
        middle = recognizer.log_probs([crop[9:51]])[0]
        whole = recognizer.log_probs([crop])[0]
    finally:
        recognizer.crop_trim = saved
    assert trimmed.shape == middle.shape and np.allclose(trimmed, middle, atol=1e-5)
    assert whole.shape != middle.shape or not np.allclose(whole, middle, atol=1e-3)


def test_a_trim_of_half_the_height_is_refused():
    from handocr.recognition.ctc_onnx import CtcOnnxRecognizer

    spec = find_model("line-recognizer")
    with pytest.raises(ValueError, match="crop_trim"):
        CtcOnnxRecognizer(spec.onnx_path, spec.info, threads=1, crop_trim=0.5)


def test_the_trim_script_reads_every_line_at_every_setting(tmp_path):
    import importlib.util
    from pathlib import Path

    from conftest import write_generated_pages

    pages = write_generated_pages(tmp_path / "pages", 1, seed=5, long_side=700)
    script = Path(__file__).resolve().parent.parent / "scripts" / "crop_trim_eval.py"
    spec = importlib.util.spec_from_file_location("crop_trim_eval", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "trims.json"
    argv = ["--data", str(pages), "--split", "train", "--trims", "0,0.1", "--width-scales", "1,0.7"]
    assert module.main([*argv, "--min-line-heights", "0,0.7", "--threads", "1", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["results"]["pages"]
    settings = [(r["trim"], r["width_scale"], r["min_line_height"]) for r in rows]
    assert settings == [(t, w, m) for t in (0.0, 0.1) for w in (1.0, 0.7) for m in (0.0, 0.7)]
    for row in rows:
        assert row["pages"] == 1 and row["matched_lines"] > 3 and row["ms_per_line"] > 0
        assert 0.0 <= row["detected"] <= 1.0 and 0.0 <= row["annotated"] <= 1.0


def test_the_padding_script_scores_every_line_however_batches_are_padded(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    from conftest import write_generated_pages

    pages = write_generated_pages(tmp_path / "pages", 2, seed=6, long_side=700)
    script = Path(__file__).resolve().parent.parent / "scripts" / "padding_eval.py"
    spec = importlib.util.spec_from_file_location("padding_eval", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    base = ["--recognizer", "line-recognizer-fast", "--data", str(pages), "--split", "train", "--threads", "1"]
    assert module.main(base) == 0
    assert module.main([*base, "--pad-multiple", "256", "--batch-size", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("padded to 4, 16 lines a batch") and out[2].endswith("padded to 256, 1 lines a batch")
    for line in (out[1], out[3]):
        assert line.startswith("pages: line CER ") and line.endswith(" ms a line")
