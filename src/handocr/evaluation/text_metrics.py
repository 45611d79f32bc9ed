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


class ErrorRate:
    """Accumulates edit operations and reference length; ``value`` is errors / reference length."""

    def __init__(self) -> None:
        self.errors = 0
        self.total = 0

    def add(self, reference: Sequence, hypothesis: Sequence) -> None:
        """Add one reference/hypothesis pair."""
        self.errors += edit_distance(reference, hypothesis)
        self.total += len(reference)

    @property
    def value(self) -> float:
        """The error rate (0.0 when nothing was added)."""
        return self.errors / self.total if self.total else 0.0


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
