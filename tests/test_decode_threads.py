"""A page's lines are decoded on the recognizer's threads at once, with the results of one at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from handocr.models import load_detector, load_recognizer
from handocr.pipeline import cut_line_crops

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "copiste_0212.jpg"


def test_lines_decoded_on_two_threads_read_as_on_one(monkeypatch):
    image = Image.open(EXAMPLE)
    boxes = [d.box for d in load_detector(threads=1).detect(np.asarray(image.convert("RGB")))]
    crops = cut_line_crops(np.asarray(image.convert("L")), boxes, 4, 0.8)
    assert len(crops) >= 10
    recognizer = load_recognizer("line-recognizer-fast", threads=2)
    mapped = []
    real_map = recognizer._decoding.map
    monkeypatch.setattr(
        recognizer._decoding, "map", lambda fn, lines, *more: mapped.append(len(lines)) or real_map(fn, lines, *more)
    )
    together = recognizer.recognize(crops)
    assert mapped == [len(crops)]  # on the pool, once for the page
    monkeypatch.setattr(recognizer, "threads", 1)  # the same network, lines decoded one at a time
    alone = recognizer.recognize(crops)
    assert mapped == [len(crops)]
    assert [r.text for r in together] == [r.text for r in alone]
    assert [r.char_confidences for r in together] == [r.char_confidences for r in alone]
    assert [r.char_spans for r in together] == [r.char_spans for r in alone]
    assert sum(len(r.text) for r in alone) > 100


def test_each_line_is_read_greedily_once_for_the_language_guess_and_the_beam(monkeypatch):
    import handocr.recognition.beam as beam
    import handocr.recognition.ctc_onnx as ctc_onnx

    image = Image.open(EXAMPLE)
    boxes = [d.box for d in load_detector(threads=1).detect(np.asarray(image.convert("RGB")))]
    crops = cut_line_crops(np.asarray(image.convert("L")), boxes, 4, 0.8)
    recognizer = load_recognizer("line-recognizer-lite", threads=1)
    assert recognizer.languages and recognizer.decoder.method == "beam"
    before = recognizer.recognize(crops)
    calls = []
    for module in (beam, ctc_onnx):
        real = module.greedy_decode
        monkeypatch.setattr(module, "greedy_decode", lambda lp, chars, real=real: calls.append(1) or real(lp, chars))
    after = recognizer.recognize(crops)
    assert len(calls) == len(crops)
    assert [(r.text, r.char_confidences, r.char_spans, r.language) for r in after] == [
        (r.text, r.char_confidences, r.char_spans, r.language) for r in before
    ]
    beam_alone = beam.beam_decode(recognizer.log_probs(crops[:1])[0], recognizer.charset.characters, beam_width=4)
    assert len(calls) == len(crops) + 1  # without best_path, beam_decode reads the best path itself
    assert beam_alone.text
