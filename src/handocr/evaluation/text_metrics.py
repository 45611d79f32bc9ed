"""Character and word error rates."""

from __future__ import annotations

from collections.abc import Sequence


def edit_distance(reference: Sequence, hypothesis: Sequence) -> int:
    """Levenshtein distance between two sequences (characters or words)."""
    if len(reference) < len(hypothesis):
        reference, hypothesis = hypothesis, reference
    previous = list(range(len(hypothesis) + 1))
    for i, ref_item in enumerate(reference, 1):
        current = [i]
        for j, hyp_item in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_item != hyp_item)))
        previous = current
    return previous[-1]


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
