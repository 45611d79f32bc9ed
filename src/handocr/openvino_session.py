"""An ONNX model run by OpenVINO behind the ONNX Runtime session calls handocr makes.

Used by :func:`handocr.runtime.make_session` when a model runs on OpenVINO (see
:mod:`handocr.runtime`); needs the ``openvino`` package (``handocr[openvino]``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handocr.errors import RuntimeUnavailable

PRECISIONS = ("f32", "bf16")  # OpenVINO's inference precisions that a model.json may name
# OpenVINO prepares its kernels for each input shape it meets and keeps them (its runtime cache):
# batches of lines padded to widths that are multiples of WIDTH_MULTIPLE meet shapes it has met
# before far more often, and the cache holds at most RUNTIME_CACHE_ENTRIES entries, because each
# new shape (batch size, width) costs memory that is never given back otherwise (several MiB for
# the default recognizer; a service meets hundreds of shapes). Both chosen with
# `python -m bench.openvino_shapes` (README, "Runtimes").
WIDTH_MULTIPLE = 256
RUNTIME_CACHE_ENTRIES = 1000


@dataclass(frozen=True)
class ModelInput:
    """A model input's name and shape (``None`` or a name where a dimension is dynamic), as ONNX
    Runtime's ``NodeArg`` gives them."""

    name: str
    shape: list[int | str | None]


class OpenVinoSession:
    """An ONNX file compiled for the CPU by OpenVINO, behind the calls handocr makes of an ONNX
    Runtime session: ``run``, ``get_inputs`` (and :func:`model_metadata`).

    The model keeps its dynamic dimensions (a batch of lines of any width is one call, as in ONNX
    Runtime). ``precision`` is OpenVINO's inference precision (:data:`PRECISIONS`); ``bf16`` falls
    back to float32 on a CPU without bfloat16 units. Calls from several threads at once are safe:
    each thread has its own infer request. ``width_multiple``: callers that may pad their inputs'
    widths pad them to a multiple of it (see :data:`WIDTH_MULTIPLE`). ``cache_entries`` bounds
    OpenVINO's cache of prepared kernels (see :data:`RUNTIME_CACHE_ENTRIES`).
    """

    width_multiple = WIDTH_MULTIPLE

    def __init__(
        self, path: Path, threads: int, precision: str = "f32", cache_entries: int = RUNTIME_CACHE_ENTRIES
    ) -> None:
        import openvino as ov

        if precision not in PRECISIONS:
            raise RuntimeUnavailable(
                f"{path}: unknown OpenVINO precision {precision!r}: one of {', '.join(PRECISIONS)}"
            )
        core = ov.Core()
        if precision == "bf16" and "BF16" not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            precision = "f32"
        model = core.read_model(str(path))
        self.precision = precision
        self.metadata = _openvino_metadata(model)
        self._inputs = [
            ModelInput(item.get_any_name(), [d.get_length() if d.is_static else None for d in item.get_partial_shape()])
            for item in model.inputs
        ]
        self._outputs = [item.get_any_name() for item in model.outputs]
        self._compiled = core.compile_model(
            model,
            "CPU",
            {
                "INFERENCE_NUM_THREADS": threads,
                "INFERENCE_PRECISION_HINT": precision,
                "PERFORMANCE_HINT": "LATENCY",
                "NUM_STREAMS": 1,
                "ENABLE_CPU_PINNING": False,  # two reads at once (the service) share the cores
                "CPU_RUNTIME_CACHE_CAPACITY": cache_entries,
            },
        )
        self._requests = threading.local()

    def get_inputs(self) -> list[ModelInput]:
        """The model's inputs."""
        return list(self._inputs)

    def run(self, output_names: list[str] | None, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Outputs (all, or those named) for ``feeds`` (input name to array), as copies."""
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self._compiled.create_infer_request()
        results = request.infer({name: np.ascontiguousarray(value) for name, value in feeds.items()})
        by_name = {name: results[k] for k, name in enumerate(self._outputs)}
        return [by_name[name] for name in (output_names or self._outputs)]


def _openvino_metadata(model: Any) -> dict[str, str]:
    """The ONNX ``metadata_props`` of a model OpenVINO read (its ``framework`` runtime info)."""
    info = model.get_rt_info()
    if "framework" not in info:
        return {}
    return {key: model.get_rt_info(["framework", key]).astype(str) for key in info["framework"]}
