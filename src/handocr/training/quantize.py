"""int8 quantization of a CTC line recognizer, calibrated on ``train`` line crops.

Two parts of the network are quantized, each the way ONNX Runtime runs it fastest:

- **The convolutional front, static.** ONNX Runtime's static quantization (QDQ) rewrites the
  ``Conv``, ``Relu`` and ``MaxPool`` nodes to read and write 8-bit integers: weights per output
  channel (``QInt8``), activations per tensor (``QUInt8``) with ranges measured on real line crops.
  With the ``Relu`` and ``MaxPool`` nodes quantized too, ONNX Runtime runs the whole front in int8
  (each ReLU folded into its convolution's output range, the pooling on bytes); with the
  convolutions alone it would turn every convolution's output back to float and quantize it again
  for the next, at about a quarter of the network's time. Activation ranges are the
  ``percentile`` of each tensor's absolute values (a few extreme values would otherwise stretch the
  range and cost every other value its precision).
- **The LSTMs, dynamic.** Each ``LSTM`` becomes a ``DynamicQuantizeLSTM``: weights int8 per
  channel, its inputs quantized on the fly at each step (their range is the step's own, so no
  calibration is needed). The projection and the classifier stay in float32.

The calibration crops are the ground-truth boxes of the ``train`` pages with the reader's crop
margin, prepared as the recognizer reads them (its ``crop_trim``, line height and
``width_scale``); each is cut or padded to :data:`CALIBRATION_WIDTH` columns, because the
percentile calibration stacks tensors of one shape. The calibrator reads one batch at a time and
folds it into its histograms (it would otherwise keep every intermediate tensor of every batch
until the end: about 11 GB for 552 crops of the fast recognizer, against 1 GB so). ``val`` is never
read here: the quantized model is measured there afterwards.

Needs the ``onnx`` package (``handocr[train]``); the quantized model runs with ONNX Runtime alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

CALIBRATION_WIDTH = 640  # columns of every calibration input (after the recognizer's resizing)
CALIBRATION_BATCH = 8
DEFAULT_PERCENTILE = 99.99
QUANTIZED_OPS = ("Conv", "Relu", "MaxPool")  # static, calibrated
DYNAMIC_OPS = ("LSTM",)  # dynamic: weights int8, inputs quantized as they come
MIN_OPSET = 13  # per-channel QDQ (DequantizeLinear's axis) needs it; older graphs are converted first


def calibration_batches(
    recognizer: object, crops: Sequence[np.ndarray], batch: int = CALIBRATION_BATCH, width: int = CALIBRATION_WIDTH
) -> list[np.ndarray]:
    """Inputs ``(batch, 1, height, width)`` for calibration: each grayscale crop prepared as
    ``recognizer`` (a :class:`~handocr.recognition.ctc_onnx.CtcOnnxRecognizer`) reads it
    (:meth:`~handocr.recognition.ctc_onnx.CtcOnnxRecognizer.line_input`), cut or zero-padded (paper)
    to ``width`` columns; a last incomplete batch is left out."""
    lines = []
    for crop in crops:
        line = recognizer.line_input(crop)[:, :width]
        lines.append(np.pad(line, ((0, 0), (0, width - line.shape[1]))))
    stop = len(lines) - len(lines) % batch
    return [np.stack(lines[k : k + batch])[:, None].astype(np.float32) for k in range(0, stop, batch)]


def quantize_recognizer(
    source: Path, target: Path, batches: Sequence[np.ndarray], percentile: float = DEFAULT_PERCENTILE
) -> list[str]:
    """Write ``source`` (a recognizer's ONNX file) to ``target`` with int8 convolutions calibrated on
    ``batches`` (see :func:`calibration_batches`) and int8 LSTMs (see the module docstring);
    ``target``'s metadata is ``source``'s. Returns what was quantized and how, a line per part.

    A graph older than opset :data:`MIN_OPSET` (PP-OCR's is 11) is converted to it first. The
    written model is loaded once with ONNX Runtime: one it cannot run is removed and raises
    ``ValueError``.
    """
    import contextlib
    import io
    import shutil
    import tempfile

    import onnx
    import onnxruntime as ort
    from onnx import version_converter
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not batches:
        raise ValueError("no calibration batches: give more line crops than one batch")
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):  # its progress prints
        prepared, static, graph = Path(tmp) / "prepared.onnx", Path(tmp) / "static.onnx", onnx.load(str(source))
        if _opset(graph) < MIN_OPSET:
            source = Path(tmp) / "converted.onnx"
            onnx.save(version_converter.convert_version(graph, MIN_OPSET), str(source))
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        _quantize_front(prepared, static, batches, percentile)
        done = [f"{', '.join(QUANTIZED_OPS)} (QDQ): weights int8 per channel, activations uint8 per tensor"]
        if any(node.op_type in DYNAMIC_OPS for node in graph.graph.node):
            _quantize_lstms(static, target)
            done.append(f"{', '.join(DYNAMIC_OPS)} (dynamic): weights int8 per channel, inputs quantized per step")
        else:
            shutil.move(static, target)
    model, metadata = onnx.load(str(target)), {p.key: p.value for p in graph.metadata_props}
    onnx.helper.set_model_props(model, metadata)  # charset and geometry, as the source has them
    onnx.save(model, str(target))
    try:
        ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    except Exception as exc:  # ONNX Runtime raises its own exception types
        target.unlink(missing_ok=True)  # no model left behind to fail later
        raise ValueError(f"the quantized model does not load in ONNX Runtime: {exc}") from exc
    return done


def _quantize_front(source: Path, target: Path, batches: Sequence[np.ndarray], percentile: float) -> None:
    """Static QDQ of the :data:`QUANTIZED_OPS`, ranges calibrated on ``batches`` one batch at a time."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Batches(CalibrationDataReader):
        """The calibration batches, read in the turns that ``set_range`` marks."""

        def __init__(self) -> None:
            self.set_range(0, len(batches))

        def __len__(self) -> int:
            return len(batches)

        def set_range(self, start_index: int, end_index: int) -> None:
            self.items = iter([{"images": b} for b in batches[start_index:end_index]])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    quantize_static(
        str(source),
        str(target),
        Batches(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=list(QUANTIZED_OPS),
        calibrate_method=CalibrationMethod.Percentile,
        # a turn of one batch: the histogram calibrator keeps every output of a turn until its end
        extra_options={"CalibPercentile": percentile, "CalibStridedMinMax": 1},
    )


def _quantize_lstms(source: Path, target: Path) -> None:
    """Dynamic int8 of the :data:`DYNAMIC_OPS` (weights per channel)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it logs advice meant for float models as warnings
    try:
        quantize_dynamic(
            str(source),
            str(target),
            op_types_to_quantize=list(DYNAMIC_OPS),
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
    finally:
        root.setLevel(level)


def _opset(graph: Any) -> int:
    """The default-domain opset a graph imports."""
    return max((o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")), default=0)
