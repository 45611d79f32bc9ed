"""The recognizer architectures that ``handocr train recognizer --arch`` can train and export.

Each has its input height, its width downsampling (input columns per CTC frame), a builder for a
charset, the names of its classifier weights (to keep known characters when the charset grows) and
an ONNX exporter. Every exported model has the same interface: input ``images (N, 1, H, W)`` float
in [0, 1], ink high; output ``log_probs (N, W / downsample, C)``; charset and geometry in the ONNX
metadata, so :class:`handocr.recognition.ctc_onnx.CtcOnnxRecognizer` runs any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from handocr.recognition.charset import Charset

if TYPE_CHECKING:  # torch is imported only when a model is built (the CLI lists these without it)
    from torch import nn


@dataclass(frozen=True)
class CrnnShape:
    """The widths of a CRNN: output channels of its five conv layers, the projection in front of the
    LSTM and the LSTM's hidden size (each direction)."""

    channels: tuple[int, int, int, int, int]
    project: int
    hidden: int


CRNN_V1_SHAPE = CrnnShape(channels=(16, 32, 64, 64, 96), project=128, hidden=128)
CRNN_WIDE_SHAPE = CrnnShape(channels=(32, 64, 128, 128, 192), project=192, hidden=192)


@dataclass(frozen=True)
class PpOcrShape:
    """Where a PP-OCRv6 small variant departs from PP-OCR's graph (``PpOcrShape()`` is the graph itself).

    ``line_height``: input rows, a multiple of 16 (PP-OCR's 48; its stages keep their strides, so a
    line read at 32 rows costs about 4/9 of the MACs at 48). ``late_column_stride``: 2 makes the
    convolution that opens the third stage halve the columns too (stride (2, 2) where PP-OCR has
    (2, 1)), so the last two stages, about three quarters of the MACs, read half as many columns;
    the pooling in front of the neck then no longer halves them. ``frames_per_column``: CTC frames
    the head emits for each column of the neck (a learned linear map splits each column's features
    into that many before the classifier, started as copies). ``hidden_fraction``: the share of
    the hidden channels each block's pair of pointwise convolutions keeps (those between its
    widening and its narrowing convolution, about seven tenths of the MACs; see
    :mod:`handocr.training.narrow`).
    """

    line_height: int = 48
    late_column_stride: int = 1
    frames_per_column: int = 1
    hidden_fraction: float = 1.0

    @property
    def downsample(self) -> int:
        """Input columns per CTC frame: 8 per column of the neck, split into ``frames_per_column``."""
        return 8 // self.frames_per_column


@dataclass(frozen=True)
class Architecture:
    """One recognizer architecture (see the module docstring)."""

    name: str
    line_height: int
    downsample: int
    description: str
    crnn_shape: CrnnShape | None = None  # the widths of a compact CRNN; None for PP-OCR
    ppocr_shape: PpOcrShape | None = None  # the PP-OCR variant; None for a CRNN

    @property
    def is_crnn(self) -> bool:
        """Whether this is one of the compact CRNNs (:mod:`handocr.training.crnn`)."""
        return self.crnn_shape is not None

    def build(self, charset: Charset) -> nn.Module:
        """A model for ``charset``: a CRNN from scratch, PP-OCR from its pretrained weights."""
        if self.is_crnn:
            from handocr.training.crnn import CRNN

            return CRNN(charset.num_classes, height=self.line_height, shape=self.crnn_shape)
        from handocr.training.ppocr import PpOcrRecognizer

        return PpOcrRecognizer(charset, shape=self.ppocr_shape)

    def classifier(self, model: nn.Module) -> tuple[tuple[str, str], int]:
        """State-dict keys of the classifier's weight and bias, and the weight's class dimension."""
        if self.is_crnn:
            return ("classifier.weight", "classifier.bias"), 0
        return model.classifier_keys(), 1

    def export(self, model: nn.Module, target: Path) -> None:
        """Write ``model`` as ONNX at ``target`` (metadata is added by the caller)."""
        model.eval()
        if self.is_crnn:
            _export_traced(model, self.line_height, target)
        else:
            from handocr.training.ppocr import export_onnx

            export_onnx(model, target)


CRNN_V1 = Architecture(
    "crnn-v1", 32, 4, "compact CNN + BiLSTM (0.85 M parameters) trained from scratch; fastest", CRNN_V1_SHAPE
)
CRNN_WIDE = Architecture(
    "crnn-wide",
    32,
    4,
    "crnn-v1 with twice the channels and a wider LSTM (2.1 M parameters); can start as a copy of a "
    "trained crnn-v1 (--from it with --arch crnn-wide)",
    CRNN_WIDE_SHAPE,
)


def _ppocr_architecture(name: str, description: str, shape: PpOcrShape) -> Architecture:
    """A PP-OCR variant: its line height and downsampling are its shape's."""
    return Architecture(name, shape.line_height, shape.downsample, description, ppocr_shape=shape)


PPOCR_V6 = _ppocr_architecture(
    "ppocrv6-small",
    "PP-OCRv6 small line recognizer (rapidocr wheel, Apache-2.0) fine-tuned; most accurate",
    PpOcrShape(),
)
PPOCR_V6_LITE = _ppocr_architecture(
    "ppocrv6-lite",
    "ppocrv6-small reading 32-row lines, its last two stages at half the columns and two CTC frames a "
    "column (about a quarter of its MACs); starts from ppocrv6-small weights (--from them with --arch "
    "ppocrv6-lite)",
    PpOcrShape(line_height=32, late_column_stride=2, frames_per_column=2),
)
PPOCR_V6_SLIM = _ppocr_architecture(
    "ppocrv6-slim",
    "ppocrv6-lite with half the hidden channels in each block's pair of pointwise convolutions (about "
    "two thirds of its MACs); starts from ppocrv6-lite or ppocrv6-small weights, keeping the channels "
    "that carry the most (--from them with --arch ppocrv6-slim)",
    PpOcrShape(line_height=32, late_column_stride=2, frames_per_column=2, hidden_fraction=0.5),
)
ARCHITECTURES = {a.name: a for a in (CRNN_V1, CRNN_WIDE, PPOCR_V6, PPOCR_V6_LITE, PPOCR_V6_SLIM)}


def get_architecture(name: str) -> Architecture:
    """The architecture called ``name`` (``ValueError`` listing the known ones otherwise)."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown recognizer architecture {name!r}: one of {', '.join(ARCHITECTURES)}") from None


def _export_traced(model: nn.Module, height: int, target: Path) -> None:
    """torch.onnx export with dynamic batch and width (the legacy exporter: the LSTM needs it)."""
    import torch

    class LogSoftmax(torch.nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return torch.log_softmax(self.inner(images), dim=-1)

    torch.onnx.export(
        LogSoftmax(model),
        (torch.zeros(2, 1, height, 256),),
        str(target),
        input_names=["images"],
        output_names=["log_probs"],
        dynamic_axes={"images": {0: "batch", 3: "width"}, "log_probs": {0: "batch", 1: "frames"}},
        opset_version=17,
        dynamo=False,
    )
