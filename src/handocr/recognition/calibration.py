"""Confidence calibration: expected calibration error, reliability tables, temperature scaling and
an isotonic alternative, plus the alignments that say which predicted characters and words are right.

Confidences are probabilities in ``[0, 1]``; "correct" is a bool per item (a predicted character or
word) or a float in ``[0, 1]`` (a line's ``1 - CER``), in which case the error compares mean
confidence with mean accuracy per bin just the same.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

TEMPERATURE_GRID = np.round(np.arange(0.5, 3.0001, 0.05), 2)


def _bins(confidences: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bin of each confidence: ``[0, 1/bins), ..., [1 - 1/bins, 1]``."""
    return np.clip((confidences * bins).astype(np.int64), 0, bins - 1)


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[float], bins: int = 10) -> float:
    """ECE with equal-width bins: sum over bins of ``(n_bin / n) * |accuracy_bin - confidence_bin|``."""
    conf = np.asarray(confidences, dtype=np.float64)
    acc = np.asarray(correct, dtype=np.float64)
    if not len(conf):
        return 0.0
    which = _bins(conf, bins)
    n = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, acc, minlength=bins) - np.bincount(which, conf, minlength=bins))
    return float(gap.sum() / len(conf)) if n.sum() else 0.0


def reliability_table(confidences: Sequence[float], correct: Sequence[float], bins: int = 10) -> list[dict]:
    """Per equal-width bin: ``lo``, ``hi``, ``count``, mean ``confidence`` and ``accuracy`` (None if empty)."""
    conf = np.asarray(confidences, dtype=np.float64)
    acc = np.asarray(correct, dtype=np.float64)
    which = _bins(conf, bins) if len(conf) else np.zeros(0, dtype=np.int64)
    rows = []
    for b in range(bins):
        mask = which == b
        count = int(mask.sum())
        rows.append(
            {
                "lo": b / bins,
                "hi": (b + 1) / bins,
                "count": count,
                "confidence": float(conf[mask].mean()) if count else None,
                "accuracy": float(acc[mask].mean()) if count else None,
            }
        )
    return rows


def binary_nll(confidences: Sequence[float], correct: Sequence[float], eps: float = 1e-6) -> float:
    """Mean negative log-likelihood of ``correct`` (bool or soft targets) under ``confidences``."""
    p = np.clip(np.asarray(confidences, dtype=np.float64), eps, 1 - eps)
    y = np.asarray(correct, dtype=np.float64)
    if not len(p):
        return 0.0
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def fit_temperature(
    confidences_at: Callable[[float], np.ndarray],
    correct: Sequence[float],
    grid: Sequence[float] = TEMPERATURE_GRID,
    objective: str = "nll",
    bins: int = 10,
) -> float:
    """The temperature of ``grid`` whose confidences (``confidences_at(T)``) best fit ``correct``.

    ``objective`` is ``"nll"`` (smooth, the usual choice) or ``"ece"``; ties go to the temperature
    nearest 1.
    """
    if objective not in ("nll", "ece"):
        raise ValueError(f"objective must be 'nll' or 'ece', not {objective!r}")
    y = np.asarray(correct, dtype=np.float64)
    best_t, best = 1.0, np.inf
    for t in sorted(grid, key=lambda t: abs(t - 1.0)):
        conf = confidences_at(float(t))
        loss = binary_nll(conf, y) if objective == "nll" else expected_calibration_error(conf, y, bins)
        if loss < best - 1e-12:
            best_t, best = float(t), loss
    return best_t


@dataclass
class IsotonicCalibrator:
    """A monotone map from raw to calibrated confidence (pool-adjacent-violators), applied by
    linear interpolation between the fitted points ``x`` -> ``y``."""

    x: list[float]
    y: list[float]

    @classmethod
    def fit(cls, confidences: Sequence[float], correct: Sequence[float]) -> IsotonicCalibrator:
        """Fit on raw confidences and correctness (bool or float)."""
        conf = np.asarray(confidences, dtype=np.float64)
        acc = np.asarray(correct, dtype=np.float64)
        if not len(conf):
            return cls([0.0, 1.0], [0.0, 1.0])
        order = np.argsort(conf, kind="stable")
        conf, acc = conf[order], acc[order]
        # blocks of (sum of targets, count, sum of confidences); merge while a block beats the next
        sums: list[float] = []
        counts: list[float] = []
        xs: list[float] = []
        for c, a in zip(conf.tolist(), acc.tolist(), strict=True):
            sums.append(a)
            counts.append(1.0)
            xs.append(c)
            while len(sums) > 1 and sums[-2] / counts[-2] >= sums[-1] / counts[-1]:
                s, n, x = sums.pop(), counts.pop(), xs.pop()
                sums[-1] += s
                counts[-1] += n
                xs[-1] += x
        x = [xi / n for xi, n in zip(xs, counts, strict=True)]
        y = [s / n for s, n in zip(sums, counts, strict=True)]
        return cls(x, y)

    def __call__(self, confidences: Sequence[float] | np.ndarray) -> np.ndarray:
        """Calibrated confidences."""
        return np.interp(np.asarray(confidences, dtype=np.float64), self.x, self.y)

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-ready form (e.g. for ``model.json``)."""
        return {"x": [round(v, 5) for v in self.x], "y": [round(v, 5) for v in self.y]}

    @classmethod
    def from_dict(cls, data: dict[str, Sequence[float]]) -> IsotonicCalibrator:
        """From :meth:`to_dict`'s form; the points must be as many, increasing in ``x``, within ``[0, 1]``."""
        x = [float(v) for v in data["x"]]
        y = [float(v) for v in data["y"]]
        if not x or len(x) != len(y):
            raise ValueError("a calibration map needs as many x as y values, at least one")
        if any(b < a for a, b in itertools.pairwise(x)) or not all(0.0 <= v <= 1.0 for v in (*x, *y)):
            raise ValueError("calibration points must be in [0, 1] with x increasing")
        return cls(x, y)


def align_matches(reference: Sequence, hypothesis: Sequence) -> list[bool]:
    """For each hypothesis item, whether a minimum-edit alignment matches it to an equal reference item.

    Works on characters (strings) and words (lists of strings); ties prefer a match.
    """
    n, m = len(reference), len(hypothesis)
    if not m:
        return []
    if not n:
        return [False] * m
    ref = list(reference)
    hyp = list(hypothesis)
    cost = np.zeros((n + 1, m + 1), dtype=np.int64)
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        diff = np.array([ref[i - 1] != h for h in hyp], dtype=np.int64)
        row = np.minimum(cost[i - 1, 1:] + 1, cost[i - 1, :-1] + diff)
        # insertions chain along the row: cur[j] = min(row[j], cur[j-1] + 1)
        cur = np.concatenate([[i], row])
        index = np.arange(m + 1)
        cost[i] = np.minimum.accumulate(cur - index) + index
    out = [False] * m
    i, j = n, m
    while i > 0 and j > 0:
        same = ref[i - 1] == hyp[j - 1]
        if cost[i, j] == cost[i - 1, j - 1] + (0 if same else 1):
            out[j - 1] = same
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i, j - 1] + 1:
            j -= 1
        else:
            i -= 1
    return out


def word_ranges(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` character ranges of the words of ``text`` (split on spaces)."""
    out = []
    start = None
    for i, ch in enumerate([*text, " "]):
        if ch != " " and start is None:
            start = i
        elif ch == " " and start is not None:
            out.append((start, i))
            start = None
    return out


def word_confidence(char_confidences: Sequence[float], rule: str = "min") -> float:
    """A word's confidence from its characters': ``"min"`` (lowest) or ``"product"``."""
    if rule == "min":
        return float(np.min(char_confidences))
    if rule == "product":
        return float(np.prod(char_confidences))
    raise ValueError(f"word rule must be 'min' or 'product', not {rule!r}")


def word_confidences(text: str, char_confidences: Sequence[float], rule: str = "product") -> list[tuple[str, float]]:
    """Words of ``text`` (split on spaces) with their confidence from their characters'
    (:func:`word_confidence`): the ``"product"`` (the chance that all are right, as
    :func:`handocr.layout.words_from_chars` fills the result tree) or the ``"min"``."""
    if rule not in ("product", "min"):
        raise ValueError(f"word rule must be 'product' or 'min', not {rule!r}")
    return [(text[a:b], word_confidence(char_confidences[a:b], rule)) for a, b in word_ranges(text)]


class SpanConfidences:
    """Recomputes a decoded line's character confidences at any temperature, fast.

    ``log_probs`` are the line's ``(T, C)`` log-probabilities at temperature 1; character ``i`` is
    class ``labels[i]`` over frames ``spans[i]`` (inclusive); its confidence at temperature ``t`` is
    the highest ``softmax(log_probs / t)`` of its class over its frames, as in greedy decoding.
    """

    def __init__(self, log_probs: np.ndarray, labels: Sequence[int], spans: Sequence[tuple[int, int]]) -> None:
        frames = [np.arange(t0, t1 + 1) for t0, t1 in spans]
        self.rows = np.concatenate(frames) if frames else np.zeros(0, dtype=np.int64)
        self.scores = np.asarray(log_probs, dtype=np.float64)[self.rows]
        self.cls = np.repeat(np.asarray(labels, dtype=np.int64), [len(f) for f in frames])
        self.starts = np.cumsum([0] + [len(f) for f in frames[:-1]]) if frames else np.zeros(0, dtype=np.int64)

    def at(self, temperature: float) -> np.ndarray:
        """Character confidences at ``temperature``."""
        if not len(self.rows):
            return np.zeros(0)
        z = self.scores / temperature
        top = z.max(axis=1, keepdims=True)
        lse = top[:, 0] + np.log(np.exp(z - top).sum(axis=1))
        picked = z[np.arange(len(z)), self.cls] - lse
        return np.exp(np.maximum.reduceat(picked, self.starts))
