"""Character and word error rates."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np


def edit_distance(reference: Sequence, hypothesis: Sequence) -> int:
    """Levenshtein distance between two sequences (characters or words), vectorised per row.

    Row ``i`` comes from row ``i - 1``: substitutions and deletions are element-wise; insertions
    chain along the row, ``cur[j] = min(tmp[j], cur[j-1] + 1)``, which is ``j + cummin(tmp[k] - k)``.
    A whole page (~1,500 characters) takes milliseconds.
    """
    if len(reference) < len(hypothesis):
        reference, hypothesis = hypothesis, reference
    if not hypothesis:
        return len(reference)
    codes: dict[Hashable, int] = {}
    ref = np.array([codes.setdefault(x, len(codes)) for x in reference], dtype=np.int64)
    hyp = np.array([codes.setdefault(x, len(codes)) for x in hypothesis], dtype=np.int64)
    index = np.arange(len(hyp) + 1, dtype=np.int64)
    previous = index.copy()
    for i, item in enumerate(ref, 1):
        current = np.empty_like(previous)
        current[0] = i
        current[1:] = np.minimum(previous[1:] + 1, previous[:-1] + (hyp != item))
        previous = np.minimum.accumulate(current - index) + index
    return int(previous[-1])


BOOTSTRAP_SAMPLES = 2000  # resamplings behind an ErrorRate.interval


class ErrorRate:
    """Accumulates edit operations and reference length; ``value`` is errors / reference length.

    Pairs added with a ``unit`` (a page, say) are also summed per unit, for :meth:`interval`.
    """

    def __init__(self) -> None:
        self.errors = 0
        self.total = 0
        self.units: dict[Hashable, list[int]] = {}  # unit -> [errors, reference length]

    def add(self, reference: Sequence, hypothesis: Sequence, unit: Hashable | None = None) -> None:
        """Add one reference/hypothesis pair (to ``unit``'s sums too when given)."""
        errors = edit_distance(reference, hypothesis)
        self.errors += errors
        self.total += len(reference)
        if unit is not None:
            sums = self.units.setdefault(unit, [0, 0])
            sums[0] += errors
            sums[1] += len(reference)

    @property
    def value(self) -> float:
        """The error rate (0.0 when nothing was added)."""
        return self.errors / self.total if self.total else 0.0

    def interval(self, level: float = 0.95, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> tuple[float, float]:
        """A ``level`` confidence interval of the rate from a percentile bootstrap over units.

        Whole units are drawn with replacement (lines of one page share a hand, so a page, not a
        line, is what varies from one sample of pages to another) and the rate recomputed as a
        ratio of sums. Seeded: the same units give the same interval. With fewer than two units
        (or none added with one) there is no spread to measure: both ends are :attr:`value`.
        """
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be in (0, 1), not {level}")
        sums = np.array(list(self.units.values()), dtype=np.float64).reshape(-1, 2)
        if len(sums) < 2:
            return self.value, self.value
        draws = np.random.default_rng(seed).integers(0, len(sums), size=(samples, len(sums)))
        errors, totals = sums[draws, 0].sum(axis=1), sums[draws, 1].sum(axis=1)
        rates = np.divide(errors, totals, out=np.zeros_like(errors), where=totals > 0)
        tail = (1.0 - level) / 2 * 100
        low, high = np.percentile(rates, [tail, 100 - tail])
        return float(low), float(high)


def cer(references: list[str], hypotheses: list[str], case_sensitive: bool = True) -> float:
    """Character error rate over a corpus (total edits / total reference characters)."""
    rate = ErrorRate()
    for ref, hyp in zip(references, hypotheses, strict=True):
        if not case_sensitive:
            ref, hyp = ref.lower(), hyp.lower()
        rate.add(ref, hyp)
    return rate.value


def wer(references: list[str], hypotheses: list[str]) -> float:
    """Word error rate over a corpus (words split on whitespace)."""
    rate = ErrorRate()
    for ref, hyp in zip(references, hypotheses, strict=True):
        rate.add(ref.split(), hyp.split())
    return rate.value
