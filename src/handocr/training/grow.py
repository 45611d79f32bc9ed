"""Grow a trained compact CRNN into a wider one that starts out reading exactly as it did.

A distilled ``crnn-v1`` stops improving long before its teacher's accuracy: it is too small. A wider
CRNN (``crnn-wide``) trained from scratch would need all of its training hours again. Instead the
trained weights are copied into the wider network and every new unit (conv channel, projection
feature, LSTM cell) gets fresh random incoming weights and **zero outgoing weights into the old
units**: the old units compute exactly what they computed before, so the wider network's output
equals the trained one's, while the new units' outgoing weights still get gradients and start
learning at the first step.

Each tensor is written by :func:`_place`: its rows that belong to old units take the old values
for old inputs and zeros for new inputs; rows of new units keep the wider network's fresh
initialisation. The index maps say where each old unit sits in the wider tensor: conv channels and
projection features are appended after the old ones; an LSTM stacks its four gates, each
``hidden`` rows, and a bidirectional LSTM's output is ``[forward, backward]``, so old unit ``j`` of
gate ``g`` moves from row ``g * H + j`` to ``g * H' + j``.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from handocr.recognition.charset import Charset
from handocr.training.architectures import ARCHITECTURES, CrnnShape, get_architecture
from handocr.training.crnn import CRNN
from handocr.training.finetune import InitialWeights
from handocr.training.narrow import narrow_state

CONV_LAYERS = (0, 2, 4, 5, 7)  # indices in CRNN.features of the conv blocks (conv, batch norm, ReLU)


def can_grow(source: str, target: str) -> bool:
    """Whether weights of architecture ``source`` can grow into ``target`` (a CRNN into a CRNN at
    least as wide everywhere, or PP-OCR into one of its variants: :func:`reshape_ppocr_state`)."""
    return _growth(source, target) is not None or _both_ppocr(source, target)


def _both_ppocr(source: str, target: str) -> bool:
    architectures = [ARCHITECTURES.get(name) for name in (source, target)]
    return all(a is not None and a.ppocr_shape is not None for a in architectures)


def reshape_ppocr_state(state: dict[str, torch.Tensor], target: str, charset: Charset) -> dict[str, torch.Tensor]:
    """The state dict of the PP-OCR variant ``target`` (for ``charset``) that starts from ``state``,
    the weights of another: the variants share every weight (they differ in strides and input
    height, which weights do not carry), but a narrower target keeps only some hidden channels of
    each pair (:func:`~handocr.training.narrow.narrow_state` chooses them), and a layer only the
    target has (its frame split) starts as the target builds it, as copies. ``ValueError`` when a
    shared weight's shape differs otherwise."""
    model = get_architecture(target).build(charset)
    reshaped = model.state_dict()
    state = narrow_state(state, model.hidden_pairs, {key: value.shape for key, value in reshaped.items()})
    for key, value in state.items():
        if key not in reshaped:
            continue  # a layer the target lacks (a frame split) is dropped
        if reshaped[key].shape != value.shape:
            raise ValueError(f"{key}: shape {tuple(value.shape)} does not fit {target}'s {tuple(reshaped[key].shape)}")
        reshaped[key] = value.detach().clone()
    return reshaped


def _growth(source: str, target: str) -> tuple[CrnnShape, CrnnShape] | None:
    """The CRNN shapes of ``source`` and ``target`` when the first can grow into the second, else None."""
    old, new = _shape(source), _shape(target)
    if old is None or new is None or not all(a <= b for a, b in zip(_widths(old), _widths(new), strict=True)):
        return None
    return old, new


def _shape(name: str) -> CrnnShape | None:
    architecture = ARCHITECTURES.get(name)
    return None if architecture is None else architecture.crnn_shape


def _widths(shape: CrnnShape) -> tuple[int, ...]:
    return (*shape.channels, shape.project, shape.hidden)


def _place(new: torch.Tensor, old: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor | None = None) -> None:
    """Write ``old`` into ``new`` in place: old row ``i`` goes to ``rows[i]`` (and old column ``j`` to
    ``cols[j]``, the other columns of those rows set to zero); rows not in ``rows`` are left alone."""
    if cols is None:
        new[rows] = old
        return
    new[rows] = 0
    new[rows[:, None], cols[None, :]] = old


def _gates(old_hidden: int, new_hidden: int) -> torch.Tensor:
    """Rows of the wider LSTM's stacked gates (i, f, g, o) where the old units' rows go."""
    return torch.cat([g * new_hidden + torch.arange(old_hidden) for g in range(4)])


def _both_directions(old_hidden: int, new_hidden: int) -> torch.Tensor:
    """Positions in the wider bidirectional output ``[forward, backward]`` of the old units' outputs."""
    return torch.cat([torch.arange(old_hidden), new_hidden + torch.arange(old_hidden)])


def grow_state(
    state: dict[str, torch.Tensor], source: str, target: str, num_classes: int, height: int = 32, seed: int = 0
) -> dict[str, torch.Tensor]:
    """The state dict of a ``target`` CRNN that computes what the ``source`` CRNN with ``state``
    computes (``num_classes`` classes, ``height``-row input); its new units are initialised from
    ``seed``. ``ValueError`` when ``source`` cannot grow into ``target`` (see :func:`can_grow`)."""
    shapes = _growth(source, target)
    if shapes is None:
        raise ValueError(f"weights of {source} cannot grow into {target}")
    old_shape, new_shape = shapes
    torch.manual_seed(seed)
    wider = CRNN(num_classes, height, new_shape)
    grown = {k: v.detach().clone() for k, v in wider.state_dict().items()}
    arange = torch.arange

    inputs = arange(1)  # the grey channel
    for layer, width in zip(CONV_LAYERS, old_shape.channels, strict=True):
        channels = arange(width)
        _place(grown[f"features.{layer}.0.weight"], state[f"features.{layer}.0.weight"], channels, inputs)
        for name in ("weight", "bias", "running_mean", "running_var"):
            key = f"features.{layer}.1.{name}"
            _place(grown[key], state[key], channels)
        grown[f"features.{layer}.1.num_batches_tracked"] = state[f"features.{layer}.1.num_batches_tracked"].clone()
        inputs = channels
    # features flatten channel-major (channel * feat_height + row): old channels keep their positions
    features = arange(old_shape.channels[-1] * wider.feat_height)
    projected = arange(old_shape.project)
    _place(grown["project.weight"], state["project.weight"], projected, features)
    _place(grown["project.bias"], state["project.bias"], projected)

    old_h, new_h = old_shape.hidden, new_shape.hidden
    gates, units, outputs = _gates(old_h, new_h), arange(old_h), _both_directions(old_h, new_h)
    for layer, layer_inputs in ((0, projected), (1, outputs)):
        for suffix in ("", "_reverse"):
            key = f"rnn.{{}}_l{layer}{suffix}"
            _place(grown[key.format("weight_ih")], state[key.format("weight_ih")], gates, layer_inputs)
            _place(grown[key.format("weight_hh")], state[key.format("weight_hh")], gates, units)
            _place(grown[key.format("bias_ih")], state[key.format("bias_ih")], gates)
            _place(grown[key.format("bias_hh")], state[key.format("bias_hh")], gates)
    classes = arange(num_classes)
    _place(grown["classifier.weight"], state["classifier.weight"], classes, outputs)
    grown["classifier.bias"] = state["classifier.bias"].clone()
    return grown


def grow_weights(init: InitialWeights, target: str) -> InitialWeights:
    """``init``'s weights grown into architecture ``target`` (see :func:`grow_state`); its charset,
    width scale and source (marked as grown) are kept. ``ValueError`` when they cannot grow."""
    arch = get_architecture(target)
    if _both_ppocr(init.architecture, target):
        state = reshape_ppocr_state(init.state, target, init.charset)
    else:
        state = grow_state(init.state, init.architecture, target, init.charset.num_classes, arch.line_height)
    return replace(init, state=state, architecture=target, source=f"{init.source} grown into {target}")
