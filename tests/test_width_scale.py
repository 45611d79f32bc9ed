"""The recognizer's width scale: lines squeezed to a share of their width before reading."""

from __future__ import annotations

import json

import numpy as np
import pytest

from handocr.models import find_model, load_recognizer
from handocr.recognition.preprocess import normalise_line


def test_normalise_line_squeezes_the_width_and_keeps_the_height():
    crop = np.full((40, 400), 230, np.uint8)
    crop[10:30, 50:350:10] = 20
    whole = normalise_line(crop, 32)
    squeezed = normalise_line(crop, 32, width_scale=0.6)
    assert whole.shape == (32, 320) and squeezed.shape == (32, 192)
    assert squeezed.max() == pytest.approx(1.0) and squeezed.min() == pytest.approx(0.0)


def test_the_shipped_recognizer_takes_its_width_scale_from_model_json():
    settings = json.loads((find_model("line-recognizer").folder / "model.json").read_text())
    assert load_recognizer("line-recognizer", threads=1).width_scale == settings.get("width_scale", 1.0)


def test_a_narrower_read_gives_fewer_ctc_frames():
    recognizer = load_recognizer("line-recognizer", threads=1)
    crop = np.full((60, 600), 235, np.uint8)
    crop[20:40, 20:580:12] = 20
    assert recognizer.height == 48
    recognizer.width_scale = 1.0
    wide = recognizer.log_probs([crop])[0]
    recognizer.width_scale = 0.5
    narrow = recognizer.log_probs([crop])[0]
    assert narrow.shape[0] == pytest.approx(wide.shape[0] / 2, abs=1)


def test_character_spans_stay_in_crop_pixels_when_squeezed():
    from handocr.recognition.ctc import DecodedLine

    recognizer = load_recognizer("line-recognizer", threads=1)
    recognizer.width_scale = 0.5
    frames = 600 * 48 // 60 // 2 // recognizer.downsample  # a 60 x 600 crop read at half width
    decoded = DecodedLine("ab", [0.9, 0.9], [(0, 0), (frames - 1, frames - 1)])
    read = recognizer._to_result(decoded, (60, 600), frames)
    assert read.char_spans[0][0] == 0 and read.char_spans[-1][1] == pytest.approx(600, abs=1)


@pytest.mark.parametrize("scale", [0.1, 3.0])
def test_a_width_scale_out_of_range_is_refused(scale):
    from handocr.recognition.ctc_onnx import CtcOnnxRecognizer

    spec = find_model("line-recognizer")
    with pytest.raises(ValueError, match="width_scale"):
        CtcOnnxRecognizer(spec.onnx_path, spec.info, threads=1, width_scale=scale)
