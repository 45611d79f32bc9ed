import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handocr.evaluation.detection_metrics import DetectionScorer, average_precision
from handocr.evaluation.text_metrics import ErrorRate, cer, edit_distance, wer


@pytest.mark.parametrize(("a", "b", "d"), [("", "", 0), ("abc", "", 3), ("kitten", "sitting", 3), ("flaw", "lawn", 2)])
def test_edit_distance(a, b, d):
    assert edit_distance(a, b) == d
    assert edit_distance(b, a) == d


def test_cer_and_wer_are_corpus_level():
    assert cer(["abcd", "ef"], ["abxd", "ef"]) == pytest.approx(1 / 6)
    assert cer(["ABC"], ["abc"], case_sensitive=False) == 0.0
    assert wer(["the cat sat"], ["the hat sat"]) == pytest.approx(1 / 3)


def test_perfect_detection_scores_one():
    scorer = DetectionScorer()
    gt = np.array([[0, 0, 100, 20], [0, 30, 100, 50]])
    scorer.add(gt, np.array([0.9, 0.8]), gt)
    summary = scorer.summary()
    assert summary["map50"] == pytest.approx(1.0)
    assert summary["precision"] == 1.0 and summary["recall"] == 1.0


def test_false_positive_and_miss_lower_ap():
    scorer = DetectionScorer()
    gt = np.array([[0, 0, 100, 20], [0, 30, 100, 50]])
    pred = np.array([[0, 0, 100, 20], [300, 300, 400, 320]])
    scorer.add(pred, np.array([0.9, 0.95]), gt)
    summary = scorer.summary()
    assert summary["precision"] == 0.5 and summary["recall"] == 0.5
    assert summary["map50"] == pytest.approx(0.25)


def test_predictions_in_ignore_regions_are_not_false_positives():
    scorer = DetectionScorer()
    gt = np.array([[0, 100, 100, 120]])
    pred = np.array([[0, 100, 100, 120], [0, 10, 100, 30]])
    scorer.add(pred, np.array([0.9, 0.9]), gt, ignore=[(0, 0, 400, 90)])
    assert scorer.summary()["precision"] == 1.0


def test_average_precision_of_ranked_hits():
    # hits at ranks 1 and 3 of 3 predictions, 2 ground truths: AP = 0.5*1 + 0.5*(2/3)
    assert average_precision(np.array([0.9, 0.8, 0.7]), np.array([True, False, True]), 2) == pytest.approx(0.5 + 1 / 3)


def test_kendall_tau_and_matching():
    from handocr.evaluation.order_metrics import OrderScorer, kendall_tau, matched_gt_ranks

    assert kendall_tau([0, 1, 2, 3]) == 1.0
    assert kendall_tau([3, 2, 1, 0]) == -1.0
    assert kendall_tau([1, 0, 2]) == pytest.approx(1 / 3)
    gt = np.array([[0, 0, 100, 20], [0, 30, 100, 50], [0, 60, 100, 80]])
    assert matched_gt_ranks(gt[[1, 0, 2]], gt) == [1, 0, 2]
    scorer = OrderScorer()
    scorer.add(gt, gt)
    scorer.add(gt[[1, 0, 2]], gt)
    scorer.add(gt[:1], gt)  # one matched line: no order to judge
    expected = {"pages_in_order": 0.5, "mean_kendall_tau": pytest.approx((1 + 1 / 3) / 2), "pages_scored": 2}
    assert scorer.summary() == expected


def test_ground_truth_order_puts_detections_where_their_lines_are():
    from handocr.evaluation.order_metrics import ground_truth_order

    gt = np.array([[0, 0, 100, 20], [0, 30, 100, 50], [0, 60, 100, 80]], dtype=float)
    split = np.array([[55, 32, 100, 50], [0, 61, 100, 79], [0, 31, 50, 49], [0, 1, 100, 19]], dtype=float)
    assert ground_truth_order(split, gt) == [3, 2, 0, 1]  # line 2 split in two: its halves left to right
    stray = np.array([[0, 62, 100, 78], [200, 24, 300, 27]], dtype=float)  # the second overlaps no line
    assert ground_truth_order(stray, gt) == [1, 0]  # ... and takes the rank of the nearest one (line 1)
    assert ground_truth_order(np.zeros((0, 4)), gt) == []
    assert ground_truth_order(split, np.zeros((0, 4))) == [0, 1, 2, 3]


def _reference_distance(a, b) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcé ", max_size=30), st.text(alphabet="abcé ", max_size=30))
def test_vectorised_edit_distance_matches_the_textbook_recurrence(a, b):
    assert edit_distance(a, b) == _reference_distance(a, b)
    assert edit_distance(a.split(), b.split()) == _reference_distance(a.split(), b.split())


def test_error_rate_interval_brackets_the_rate_and_narrows_with_more_pages() -> None:
    few, many = ErrorRate(), ErrorRate()
    rng = np.random.default_rng(3)
    for page in range(40):
        for _ in range(10):
            wrong = "abxd" if rng.random() < 0.3 else "abcd"
            if page < 8:
                few.add("abcd", wrong, unit=page)
            many.add("abcd", wrong, unit=page)
    for rate in (few, many):
        low, high = rate.interval()
        assert low <= rate.value <= high and low < high
    assert np.subtract(*many.interval()[::-1]) < np.subtract(*few.interval()[::-1])
    assert many.interval() == many.interval()  # seeded


def test_error_rate_interval_without_units_is_the_rate_itself() -> None:
    rate = ErrorRate()
    rate.add("abc", "abd")
    assert rate.interval() == (rate.value, rate.value)
    rate.add("abc", "abc", unit="p1")  # one unit: no spread to draw from either
    assert rate.interval() == (rate.value, rate.value)
    with pytest.raises(ValueError):
        rate.interval(level=1.0)


def test_error_rate_interval_matches_a_plain_bootstrap() -> None:
    rate = ErrorRate()
    pages = [("aaaa", "aaab"), ("bbbbbbbb", "bbbbbbbb"), ("cc", "dd"), ("eeeeee", "eeefff")]
    for unit, (ref, hyp) in enumerate(pages):
        rate.add(ref, hyp, unit=unit)
    errors, totals = np.array([1, 0, 2, 3]), np.array([4, 8, 2, 6])
    draws = np.random.default_rng(0).integers(0, 4, size=(500, 4))
    expected = np.percentile(errors[draws].sum(1) / totals[draws].sum(1), [2.5, 97.5])
    assert rate.interval(samples=500) == pytest.approx(tuple(expected))
