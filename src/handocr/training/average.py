"""Average the weights of several recognizer checkpoints (a "model soup").

Runs that continue the same weights stay in one basin of the loss, so the mean of their weights
is a model too, and often a better one than each run alone: each continuation drifts its own way
and the mean keeps what they share. The inputs must agree on everything but the weights:
architecture, charset, width scale, and the name, shape and type of every tensor.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from handocr.errors import HandocrError
from handocr.training.finetune import InitialWeights


def average(weights: Sequence[InitialWeights]) -> InitialWeights:
    """The uniform mean of ``weights`` (two or more, each as
    :func:`~handocr.training.finetune.read_weights` returns it).

    Floating-point tensors are averaged in float64 and cast back; other tensors (BatchNorm's step
    counters) are taken from the first. Raises :class:`HandocrError` when they disagree on
    architecture, charset, width scale or tensors.
    """
    if len(weights) < 2:
        raise HandocrError("averaging needs two or more checkpoints")
    first = weights[0]
    for other in weights[1:]:
        _check_compatible(first, other)
    state = {key: _mean([w.state[key] for w in weights]) for key in first.state}
    return InitialWeights(
        state=state,
        charset=first.charset,
        source=" + ".join(w.source for w in weights),
        architecture=first.architecture,
        width_scale=first.width_scale,
    )


def _check_compatible(first: InitialWeights, other: InitialWeights) -> None:
    def refuse(what: str) -> HandocrError:
        return HandocrError(f"cannot average {other.source} with {first.source}: {what}")

    if other.architecture != first.architecture:
        raise refuse(f"architecture {other.architecture}, not {first.architecture}")
    if other.charset.characters != first.charset.characters:
        raise refuse("another charset")
    if other.width_scale != first.width_scale:
        raise refuse(f"width scale {other.width_scale}, not {first.width_scale}")
    if other.state.keys() != first.state.keys():
        differing = sorted(other.state.keys() ^ first.state.keys())
        raise refuse(f"other tensors ({', '.join(differing[:3])}{', ...' if len(differing) > 3 else ''})")
    for key, tensor in first.state.items():
        theirs = other.state[key]
        if theirs.shape != tensor.shape or theirs.dtype != tensor.dtype:
            raise refuse(f"{key} is {tuple(theirs.shape)} {theirs.dtype}, not {tuple(tensor.shape)} {tensor.dtype}")


def _mean(tensors: list[torch.Tensor]) -> torch.Tensor:
    if not tensors[0].is_floating_point():
        return tensors[0].clone()
    return torch.stack([t.double() for t in tensors]).mean(0).to(tensors[0].dtype)
