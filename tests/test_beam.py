"""CTC prefix beam search and forced alignment on synthetic log-probabilities."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from handocr.recognition.beam import aligned_line, beam_decode, forced_alignment, prefix_beam_search
from handocr.recognition.ctc import greedy_decode, log_softmax
from handocr.recognition.lm import build_char_lm

CHARS = "abcdefghijklmnopqrstuvwxyz "


def peaked_line(text: str, seed: int = 0, sharp: float = 8.0, chars: str = CHARS) -> np.ndarray:
    """Log-probabilities ``(T, C)`` of a confident CTC model writing ``text``: each character for one or
    two frames, one to three blank frames between, random runner-up classes."""
    rng = np.random.default_rng(seed)
    path = [0]
    for i, ch in enumerate(text):
        if i and text[i - 1] == ch:
            path.append(0)
        path.extend([chars.index(ch) + 1] * int(rng.integers(1, 3)))
        path.extend([0] * int(rng.integers(1, 4)))
    logits = rng.normal(0.0, 1.0, (len(path), len(chars) + 1))
    logits[np.arange(len(path)), path] += sharp
    return log_softmax(logits)


def table(rows: list[dict[str, float]], chars: str = "ab") -> np.ndarray:
    """Log-probabilities from per-frame probabilities given by name (``"-"`` for blank)."""
    out = np.full((len(rows), len(chars) + 1), 1e-9)
    for t, row in enumerate(rows):
        for name, p in row.items():
            out[t, 0 if name == "-" else chars.index(name) + 1] = p
    out /= out.sum(axis=1, keepdims=True)
    return np.log(out)


def text_of(labels: list[int], chars: str = "ab") -> str:
    return "".join(chars[c - 1] for c in labels)


def test_beam_fixes_greedy_when_summed_prefix_probability_wins():
    # greedy path "--" has p = 0.36; prefix "a" has 0.16 + 0.24 + 0.24 = 0.64
    lp = table([{"a": 0.4, "-": 0.6}, {"a": 0.4, "-": 0.6}])
    assert greedy_decode(lp, "ab").text == ""
    assert text_of(prefix_beam_search(lp, beam_width=4)) == "a"
    assert beam_decode(lp, "ab", beam_width=4).text == "a"


def test_repeated_characters_need_a_blank():
    assert text_of(prefix_beam_search(table([{"a": 0.9}, {"-": 0.9}, {"a": 0.9}]), 4)) == "aa"
    assert text_of(prefix_beam_search(table([{"a": 0.9}, {"a": 0.9}]), 4)) == "a"
    assert prefix_beam_search(table([{"-": 0.99}] * 5), 4) == []


def _exact_best_prefix(lp: np.ndarray) -> tuple[tuple[int, ...], float]:
    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(lp.shape[1]), repeat=lp.shape[0]):
        labels, prev = [], 0
        for c in path:
            if c and c != prev:
                labels.append(c)
            prev = c
        p = float(np.exp(sum(lp[t, c] for t, c in enumerate(path))))
        totals[tuple(labels)] = totals.get(tuple(labels), 0.0) + p
    best = max(totals, key=lambda k: totals[k])
    second = sorted(totals.values())[-2]
    return best, totals[best] - second


def test_wide_beam_finds_the_most_probable_labelling():
    compared = 0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        lp = log_softmax(rng.normal(0, 1.5, (5, 3)))
        best, margin = _exact_best_prefix(lp)
        if margin < 1e-6:  # two labellings tie: either answer is right
            continue
        found = prefix_beam_search(lp, beam_width=64, prune_threshold=1e-12, beam_threshold=np.inf)
        assert tuple(found) == best, f"seed {seed}"
        compared += 1
    assert compared >= 10


@pytest.mark.parametrize("seed", range(10))
def test_width_one_without_lm_equals_greedy_on_confident_frames(seed):
    lp = peaked_line("the quick brown fox jumps", seed=seed)
    greedy = greedy_decode(lp, CHARS)
    beam = beam_decode(lp, CHARS, beam_width=1)
    assert beam.text == greedy.text == "the quick brown fox jumps"
    assert beam.spans == greedy.spans
    assert np.allclose(beam.char_confidences, greedy.char_confidences)


@pytest.mark.parametrize("seed", range(5))
def test_forced_alignment_of_the_greedy_text_is_the_greedy_path(seed):
    lp = peaked_line("a bb ccc abc", seed=seed, sharp=4.0)
    greedy = greedy_decode(lp, CHARS)
    labels = [CHARS.index(c) + 1 for c in greedy.text]
    aligned = aligned_line(lp, labels, CHARS)
    assert aligned.text == greedy.text
    assert aligned.spans == greedy.spans
    assert np.allclose(aligned.char_confidences, greedy.char_confidences)


@pytest.mark.parametrize("seed", range(10))
def test_forced_alignment_spans_are_monotone_and_inside(seed):
    rng = np.random.default_rng(seed)
    lp = log_softmax(rng.normal(0, 2.0, (40, len(CHARS) + 1)))
    labels = [int(c) for c in rng.integers(1, len(CHARS) + 1, size=int(rng.integers(1, 15)))]
    spans = forced_alignment(lp, labels)
    assert len(spans) == len(labels)
    for (_a0, a1), (b0, _b1) in itertools.pairwise(spans):
        assert a1 < b0
    for t0, t1 in spans:
        assert 0 <= t0 <= t1 < 40


def test_forced_alignment_rejects_impossible_labels():
    lp = table([{"a": 0.9}, {"a": 0.9}])
    with pytest.raises(ValueError):
        forced_alignment(lp, [1, 1])  # "aa" needs three frames
    assert forced_alignment(lp, []) == []


def test_decoded_line_has_one_confidence_and_span_per_character():
    lp = peaked_line("hello world", seed=3)
    line = beam_decode(lp, CHARS, beam_width=8)
    assert line.text == "hello world"
    assert len(line.char_confidences) == len(line.spans) == len(line.text)
    assert all(0.0 < c <= 1.0 for c in line.char_confidences)


def test_language_model_picks_the_word_it_knows():
    chars = "acdtx"
    # "ca" then a frame torn between x (0.55) and t (0.45): greedy reads "cax"
    lp = table(
        [{"c": 0.95}, {"-": 0.95}, {"a": 0.95}, {"-": 0.95}, {"x": 0.55, "t": 0.45}, {"-": 0.95}],
        chars,
    )
    assert greedy_decode(lp, chars).text == "cax"
    lm = build_char_lm(words=["cat", "act", "tac", "data", "cad"] * 3, order=3, min_counts=(1,), min_char_count=1)
    assert beam_decode(lp, chars, beam_width=8).text == "cax"
    assert beam_decode(lp, chars, beam_width=8, lm=lm, lm_weight=0.5).text == "cat"


def test_beam_with_a_language_model_keeps_confident_lines_intact():
    # speed is measured by scripts/decode_eval.py, not asserted here
    text = "the quick brown fox jumps over the lazy dog again"
    lines = [peaked_line(text, seed=s) for s in range(10)]
    lm = build_char_lm(words=text.split() * 3, order=4, min_counts=(1,), min_char_count=1)
    for lp in lines:
        assert beam_decode(lp, CHARS, beam_width=16, lm=lm, lm_weight=0.3).text == text


def test_decoder_from_settings_and_temperature_changes_confidences_only(tmp_path):
    from handocr.recognition.beam import CtcDecoder

    lm = build_char_lm(words=["hello", "world"] * 3, order=4, min_counts=(1,), min_char_count=1)
    lm.save(tmp_path / "lm.npz")
    lp = peaked_line("hello world", seed=1, sharp=5.0)
    plain = CtcDecoder(CHARS)(lp)
    assert plain == greedy_decode(lp, CHARS)
    settings = {"decoder": "beam", "beam_width": 4, "lm": "lm.npz", "lm_weight": 0.3, "temperature": 2.0}
    decoder = CtcDecoder.from_settings(settings, tmp_path, CHARS)
    assert decoder.method == "beam" and decoder.lm is not None and decoder.beam_width == 4
    hot = decoder(lp)
    assert hot.text == plain.text and hot.spans == plain.spans
    assert all(h < p for h, p in zip(hot.char_confidences, plain.char_confidences, strict=True))
    with pytest.raises(ValueError):
        CtcDecoder(CHARS, method="viterbi")


def test_char_calibration_maps_confidences_and_keeps_the_raw_line_confidence(tmp_path):
    from handocr.recognition.beam import CtcDecoder

    lp = peaked_line("hello world", seed=1, sharp=2.0)
    plain = CtcDecoder(CHARS)(lp)
    assert plain.uncalibrated_confidence is None
    settings = {"char_calibration": {"x": [0.0, 0.5, 1.0], "y": [0.2, 0.9, 0.95]}}
    mapped = CtcDecoder.from_settings(settings, tmp_path, CHARS)(lp)
    assert mapped.text == plain.text and mapped.spans == plain.spans
    expected = np.interp(plain.char_confidences, [0.0, 0.5, 1.0], [0.2, 0.9, 0.95])
    assert np.allclose(mapped.char_confidences, expected)
    assert mapped.uncalibrated_confidence == pytest.approx(plain.confidence)
    assert mapped.confidence != pytest.approx(plain.confidence)
    for bad in ({"x": [0.5, 0.2], "y": [0.1, 0.2]}, {"x": [0.1], "y": [0.1, 0.2]}, {"x": [0.1], "y": [1.5]}):
        with pytest.raises(ValueError):
            CtcDecoder.from_settings({"char_calibration": bad}, tmp_path, CHARS)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_width_buckets_keep_similar_widths_together(seed):
    from handocr.recognition.ctc_onnx import width_buckets

    rng = np.random.default_rng(seed)
    widths = [int(w) for w in rng.integers(20, 900, size=60)]
    batches = width_buckets(widths, batch_size=16, max_ratio=1.5)
    assert sorted(i for b in batches for i in b) == list(range(60))  # every line once
    for batch in batches:
        ws = [widths[i] for i in batch]
        assert len(batch) <= 16 and ws == sorted(ws) and max(ws) <= 1.5 * min(ws)
    starts = [widths[b[0]] for b in batches]
    assert starts == sorted(starts)
    assert width_buckets([100] * 40, batch_size=16) == [list(range(16)), list(range(16, 32)), list(range(32, 40))]
    assert width_buckets([], batch_size=16) == []
