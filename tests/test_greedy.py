"""Greedy (best-path) CTC decoding against a frame-by-frame reference."""

from __future__ import annotations

import numpy as np
import pytest

from handocr.recognition.ctc import DecodedLine, greedy_decode, log_softmax

CHARS = "ab c"


def frame_by_frame(log_probs: np.ndarray, characters: str) -> DecodedLine:
    """The best path read one frame at a time: a new character where a non-blank class differs from
    the frame before; its confidence the highest probability of its run, its span the run."""
    best = log_probs.argmax(axis=1)
    probs = np.exp(log_probs.max(axis=1))
    text, confs, spans = [], [], []
    prev = 0
    for t, cls in enumerate(best.tolist()):
        if cls != 0 and cls != prev:
            text.append(characters[cls - 1])
            confs.append(float(probs[t]))
            spans.append((t, t))
        elif cls != 0:
            confs[-1] = max(confs[-1], float(probs[t]))
            spans[-1] = (spans[-1][0], t)
        prev = cls
    return DecodedLine("".join(text), confs, spans)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(20))
def test_greedy_decode_matches_the_frame_by_frame_reading(seed, dtype):
    rng = np.random.default_rng(seed)
    frames = int(rng.integers(1, 60))
    logits = rng.normal(0.0, 1.0, (frames, len(CHARS) + 1))
    logits[:, 0] += rng.uniform(0, 2)  # more blanks on some lines
    log_probs = log_softmax(logits).astype(dtype)
    got = greedy_decode(log_probs, CHARS)
    want = frame_by_frame(log_probs, CHARS)
    assert (got.text, got.spans) == (want.text, want.spans)
    assert got.char_confidences == want.char_confidences  # the same floats, not close ones
    assert all(type(c) is float for c in got.char_confidences)
    assert all(type(i) is int for span in got.spans for i in span)


def test_runs_repeats_and_edges():
    # path: a a - a b b - - c (class ids 1 1 0 1 2 2 0 0 4)
    path = [1, 1, 0, 1, 2, 2, 0, 0, 4]
    log_probs = np.log(np.full((len(path), 5), 0.05))
    for t, cls in enumerate(path):
        log_probs[t, cls] = np.log(0.6 + 0.01 * t)
    decoded = greedy_decode(log_probs, CHARS)
    assert decoded.text == "aabc"
    assert decoded.spans == [(0, 1), (3, 3), (4, 5), (8, 8)]
    assert decoded.char_confidences == pytest.approx([0.61, 0.63, 0.65, 0.68])


def test_all_blank_and_empty_lines_read_nothing():
    assert greedy_decode(np.log(np.full((5, 5), 0.2)), CHARS).text == ""  # ties go to the blank
    empty = greedy_decode(np.zeros((0, 5), dtype=np.float32), CHARS)
    assert (empty.text, empty.char_confidences, empty.spans, empty.confidence) == ("", [], [], 0.0)
