"""int8 quantization of a CTC line recognizer's convolutions, calibrated on ``train`` line crops.

ONNX Runtime's static quantization (QDQ) rewrites the recognizer's convolutional front (``Conv``,
``Relu`` and ``MaxPool`` nodes) to read and write 8-bit integers: weights per output channel
(``QInt8``), activations per tensor (``QUInt8``) with ranges measured on real line crops. The LSTM,
the projections and the classifier stay in float32. With the ``Relu`` and ``MaxPool`` nodes
quantized too, ONNX Runtime runs the whole front in int8 (each ReLU folded into its convolution's
output range, the pooling on bytes); with the convolutions alone it would turn every convolution's
output back to float and quantize it again for the next, at about a quarter of the network's time.
Activation ranges are the ``percentile`` of each tensor's absolute values (a few extreme values
would otherwise stretch the range and cost every other value its precision).

The calibration crops are the ground-truth boxes of the ``train`` pages with the reader's crop
margin, prepared as the recognizer reads them (its ``crop_trim``, line height and
``width_scale``); each is cut or padded to :data:`CALIBRATION_WIDTH` columns, because the
percentile calibration stacks tensors of one shape. ``val`` is never read here: the quantized model
is measured there afterwards.

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
QUANTIZED_OPS = ("Conv", "Relu", "MaxPool")
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
) -> None:
    """Write ``source`` (a recognizer's ONNX file) to ``target`` with int8 convolutions calibrated on
    ``batches`` (see :func:`calibration_batches`); ``target``'s metadata is ``source``'s.

    A graph older than opset :data:`MIN_OPSET` (PP-OCR's is 11) is converted to it first. The
    written model is loaded once with ONNX Runtime: one it cannot run is removed and raises
    ``ValueError``.
    """
    import contextlib
    import io
    import tempfile

    import onnx
    import onnxruntime as ort
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not batches:
        raise ValueError("no calibration batches: give more line crops than one batch")

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{"images": b} for b in batches])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):  # its progress prints
        prepared, graph = Path(tmp) / "prepared.onnx", onnx.load(str(source))
        if _opset(graph) < MIN_OPSET:
            source = Path(tmp) / "converted.onnx"
            onnx.save(version_converter.convert_version(graph, MIN_OPSET), str(source))
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(target),
            Batches(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=list(QUANTIZED_OPS),
            calibrate_method=CalibrationMethod.Percentile,
            extra_options={"CalibPercentile": percentile},
        )
    model, metadata = onnx.load(str(target)), {p.key: p.value for p in graph.metadata_props}
    onnx.helper.set_model_props(model, metadata)  # charset and geometry, as the source has them
    onnx.save(model, str(target))
    try:
        ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    except Exception as exc:  # ONNX Runtime raises its own exception types
        target.unlink(missing_ok=True)  # no model left behind to fail later
        raise ValueError(f"the quantized model does not load in ONNX Runtime: {exc}") from exc


def _opset(graph: Any) -> int:
    """The default-domain opset a graph imports."""
    return max((o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")), default=0)
