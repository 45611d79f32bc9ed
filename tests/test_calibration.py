"""Calibration: ECE, reliability tables, temperature fitting, isotonic maps, alignments and the
calibration evaluation over decoded lines."""

from __future__ import annotations

import numpy as np
import pytest

from handocr.evaluation.calibration_eval import (
    LineSample,
    calibration_report,
    collect_samples,
    cross_fit_report,
    fit_temperature_on_samples,
)
from handocr.recognition.calibration import (
    IsotonicCalibrator,
    SpanConfidences,
    align_matches,
    binary_nll,
    expected_calibration_error,
    fit_temperature,
    reliability_table,
    word_confidence,
    word_confidences,
)
from handocr.recognition.ctc import greedy_decode, log_softmax

CHARS = "abcdefghij "


def test_ece_by_hand():
    # bin [0.9, 1.0]: confidence 0.95, accuracy 0.5 -> gap 0.45 over half the items
    # bin [0.2, 0.3): confidence 0.25, accuracy 0.0 -> gap 0.25 over the other half
    conf = [0.95, 0.95, 0.25, 0.25]
    correct = [1, 0, 0, 0]
    assert expected_calibration_error(conf, correct, bins=10) == pytest.approx(0.5 * 0.45 + 0.5 * 0.25)
    assert expected_calibration_error([], []) == 0.0
    assert expected_calibration_error([1.0, 1.0], [1, 1]) == 0.0


def test_calibrated_predictions_have_small_ece():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0, 1, 20000)
    correct = rng.uniform(0, 1, 20000) < conf
    assert expected_calibration_error(conf, correct) < 0.02
    assert expected_calibration_error(np.clip(conf + 0.2, 0, 1), correct) > 0.1


def test_reliability_table_counts_every_item():
    conf = [0.05, 0.15, 0.15, 0.99, 1.0]
    rows = reliability_table(conf, [0, 1, 0, 1, 1], bins=10)
    assert len(rows) == 10 and sum(r["count"] for r in rows) == 5
    assert rows[1]["count"] == 2 and rows[1]["accuracy"] == 0.5
    assert rows[9]["count"] == 2 and rows[5]["confidence"] is None


def _softmax_world(true_t: float, n: int = 6000, k: int = 6, seed: int = 0):
    """Logits whose labels are drawn at temperature ``true_t``: the argmax is right with probability
    ``softmax(z / true_t).max()``, so that temperature calibrates the top confidence."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, (n, k))
    p_true = np.exp(log_softmax(z / true_t))
    labels = np.array([rng.choice(k, p=p) for p in p_true])
    correct = labels == z.argmax(axis=1)
    return (lambda t: np.exp(log_softmax(z / t)).max(axis=1)), correct


@pytest.mark.parametrize("true_t", [0.7, 1.0, 2.0])
def test_fit_temperature_recovers_the_true_temperature(true_t):
    confidences_at, correct = _softmax_world(true_t)
    assert fit_temperature(confidences_at, correct, objective="nll") == pytest.approx(true_t, abs=0.15)
    assert fit_temperature(confidences_at, correct, objective="ece") == pytest.approx(true_t, abs=0.3)
    fitted = fit_temperature(confidences_at, correct)
    assert (
        expected_calibration_error(confidences_at(fitted), correct)
        <= expected_calibration_error(confidences_at(1.0), correct) + 1e-9
    )
    with pytest.raises(ValueError):
        fit_temperature(confidences_at, correct, objective="brier")


def test_isotonic_map_is_monotone_and_calibrates():
    rng = np.random.default_rng(1)
    conf = rng.uniform(0, 1, 5000)
    correct = rng.uniform(0, 1, 5000) < conf**3  # overconfident
    iso = IsotonicCalibrator.fit(conf, correct)
    mapped = iso(np.linspace(0, 1, 101))
    assert np.all(np.diff(mapped) >= -1e-12)
    assert expected_calibration_error(iso(conf), correct) < 0.25 * expected_calibration_error(conf, correct)
    assert binary_nll(iso(conf), correct) < binary_nll(conf, correct)
    assert set(iso.to_dict()) == {"x", "y"}


def test_align_matches_characters_and_words():
    assert align_matches("cat", "cut") == [True, False, True]
    assert align_matches("cat", "cats") == [True, True, True, False]
    assert align_matches("cat", "ct") == [True, True]
    assert align_matches("", "ab") == [False, False]
    assert align_matches("abc", "") == []
    assert align_matches(["the", "cat", "sat"], ["the", "cot", "sat", "on"]) == [True, False, True, False]


def test_word_confidences_take_the_product_or_the_lowest_character():
    assert word_confidences("ab cd", [0.9, 0.5, 1.0, 0.8, 0.7], rule="min") == [("ab", 0.5), ("cd", 0.7)]
    words = word_confidences(" ab  cd ", [1.0, 0.9, 0.5, 1.0, 1.0, 0.8, 0.7, 1.0])
    assert [w for w, _ in words] == ["ab", "cd"]
    assert [c for _, c in words] == pytest.approx([0.45, 0.56])
    assert word_confidences("", []) == []
    with pytest.raises(ValueError):
        word_confidences("a", [1.0], rule="mean")


def _line(text: str, seed: int, sharp: float = 5.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    path = []
    for ch in text:
        path += [CHARS.index(ch) + 1, 0]
    logits = rng.normal(0, 1.0, (len(path), len(CHARS) + 1))
    logits[np.arange(len(path)), path] += sharp
    return log_softmax(logits)


def test_span_confidences_match_greedy_at_temperature_one():
    lp = _line("abc de", seed=0)
    decoded = greedy_decode(lp, CHARS)
    labels = [CHARS.index(c) + 1 for c in decoded.text]
    spans = SpanConfidences(lp, labels, decoded.spans)
    assert np.allclose(spans.at(1.0), decoded.char_confidences)
    assert np.all(spans.at(2.0) < spans.at(1.0))
    assert len(SpanConfidences(lp, [], []).at(1.5)) == 0


def _samples(n_lines: int = 40) -> list[LineSample]:
    rng = np.random.default_rng(3)
    out = []
    for i in range(n_lines):
        words = ["".join(rng.choice(list(CHARS[:-1]), size=int(rng.integers(2, 5)))) for _ in range(3)]
        text = " ".join(words)
        out.append(LineSample(f"page{i % 6}", text, _line(text, seed=i, sharp=2.5).astype(np.float32)))
    return out


def test_calibration_report_and_temperature_fit_on_decoded_lines():
    samples = _samples()
    report = calibration_report(samples, CHARS, temperature=1.0)
    assert set(report) == {"char", "word", "line"}
    assert report["line"]["n"] == len(samples)
    assert report["char"]["n"] == sum(len(greedy_decode(s.log_probs, CHARS).text) for s in samples)
    t = fit_temperature_on_samples(samples, CHARS)
    after = calibration_report(samples, CHARS, temperature=t)
    assert after["word"]["nll"] <= report["word"]["nll"] + 1e-9


def test_cross_fit_report_fits_on_half_the_pages():
    report = cross_fit_report(_samples(), CHARS)
    assert report["fit_lines"] + report["test_lines"] == 40
    assert 0.5 <= report["temperature"] <= 3.0
    assert set(report["isotonic_maps"]) == {"char", "word", "line"}
    assert report["isotonic"]["word"]["n"] == report["before"]["word"]["n"]


class _FakeRecognizer:
    """Returns one fixed line of log-probabilities per crop; checks the temperature is reset."""

    def __init__(self) -> None:
        self.temperature = 1.7
        self.seen: list[float] = []

    def log_probs(self, crops):
        self.seen.append(self.temperature)
        return [_line("ab", seed=0) for _ in crops]


def test_collect_samples_reads_scored_lines_at_temperature_one(tmp_path):
    from PIL import Image

    from handocr.datasets.records import LineRecord, PageRecord

    image = tmp_path / "p1.png"
    Image.new("L", (200, 100), 255).save(image)
    page = PageRecord(
        image_path=image,
        width=200,
        height=100,
        lines=[
            LineRecord(box=(10, 10, 190, 40), text="ab"),
            LineRecord(box=(10, 50, 190, 80), text="wikitexte_0001"),
        ],
    )
    recognizer = _FakeRecognizer()
    samples = collect_samples(recognizer, pages=[page])
    assert [s.reference for s in samples] == ["ab"]
    assert recognizer.seen == [1.0] and recognizer.temperature == 1.7


def test_word_rules():
    confs = np.array([0.9, 0.5, 0.8])
    assert word_confidence(confs, "min") == 0.5
    assert word_confidence(confs, "product") == pytest.approx(0.36)
    with pytest.raises(ValueError):
        word_confidence(confs, "mean")
    samples = _samples(12)
    by_min = calibration_report(samples, CHARS, word_rule="min")["word"]
    by_product = calibration_report(samples, CHARS, word_rule="product")["word"]
    assert by_min["n"] == by_product["n"] and by_product["confidence"] <= by_min["confidence"]


def test_char_map_is_fitted_thinned_and_cross_fitted():
    from handocr.evaluation.calibration_eval import char_map_report, fit_char_map

    samples = _samples(60)
    decode = lambda lp, chars: greedy_decode(lp, chars)  # noqa: E731
    char_map = fit_char_map(samples, CHARS, decode, max_points=5)
    assert 2 <= len(char_map.x) <= 5 and char_map.x == sorted(char_map.x)
    assert all(0.001 <= y <= 0.999 for y in char_map.y) and char_map.y == sorted(char_map.y)
    assert IsotonicCalibrator.from_dict(char_map.to_dict()) == char_map
    report = char_map_report(samples, CHARS, decode)
    assert report["pages"] == 6 and report["lines"] == 60
    assert report["before"]["char"]["n"] == report["after"]["char"]["n"] > 0
    assert report["after"]["char"]["ece"] < report["before"]["char"]["ece"]  # these lines are overconfident
