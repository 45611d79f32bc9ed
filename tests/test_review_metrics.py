"""The review figures of ``handocr eval``: which lines and words low confidence flags, and what it catches."""

from __future__ import annotations

import pytest

from handocr.evaluation.review_metrics import ReviewScorer
from handocr.layout import words_from_chars
from handocr.recognition.base import RecognizedLine


def _line(text: str, char_conf: float) -> RecognizedLine:
    return RecognizedLine(text, char_conf, [char_conf] * len(text), [])


def test_confident_right_lines_and_doubtful_wrong_lines_are_told_apart():
    scorer = ReviewScorer()
    for _ in range(6):
        scorer.add("the cat sat", _line("the cat sat", 0.99))
    for _ in range(4):
        scorer.add("the dog ran", _line("tho dag rum", 0.3))
    report = scorer.summary(line_threshold=0.5, word_threshold=0.5)
    lines, words = report["lines"], report["words"]
    assert lines["n"] == 10
    assert lines["at_threshold"]["flagged"] == pytest.approx(0.4)
    assert lines["at_threshold"]["errors_caught"] == pytest.approx(1.0)
    assert lines["at_threshold"]["cer_kept"] == 0.0
    assert lines["at_threshold"]["cer_flagged"] == pytest.approx(4 / 11)
    assert 0.3 < lines["suggested_threshold"] <= 0.99
    # 12 wrong words of 30, all with confidence 0.3 ** 3
    assert words["n"] == 30
    assert words["at_threshold"]["errors_caught"] == pytest.approx(1.0)
    assert words["at_threshold"]["wrong_among_flagged"] == pytest.approx(1.0)
    assert words["at_threshold"]["wrong_among_kept"] == 0.0
    assert len(lines["sweep"]) == len(words["sweep"]) > 10


def test_confidence_that_says_nothing_catches_errors_only_at_random():
    scorer = ReviewScorer()
    for i in range(20):
        wrong = i % 2 == 0
        scorer.add("abcd", _line("abxd" if wrong else "abcd", 0.9 if i % 4 < 2 else 0.4))
    lines = scorer.summary(0.5, 0.5)["lines"]
    assert lines["at_threshold"]["flagged"] == pytest.approx(0.5)
    assert lines["at_threshold"]["errors_caught"] == pytest.approx(0.5)
    assert lines["ece"] > 0.2  # 0.9 and 0.4 claimed, 0.875 right on average


def test_an_empty_set_reports_nothing_rather_than_failing():
    assert ReviewScorer().summary(0.5, 0.5) == {"lines": {"n": 0}, "words": {"n": 0}}


def test_words_under_the_review_threshold_are_flagged_in_the_result():
    words = words_from_chars(
        "sure maybe",
        [0.99] * 4 + [0.99, 0.5, 0.9, 0.99, 0.99, 0.99],
        [],
        (0, 0, 100, 20),
        [0, 0, 100, 20],
        review_below=0.6,
    )
    assert [(w.text, w.needs_review) for w in words] == [("sure", False), ("maybe", True)]
    assert words[1].confidence == pytest.approx(0.99**4 * 0.5 * 0.9 / 0.99)
