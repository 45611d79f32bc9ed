"""Inference sessions for the ONNX models, sized to the CPUs this process may really use (cgroup
quota, affinity), on ONNX Runtime or, where installed, OpenVINO.

**Runtimes.** Every model runs with ONNX Runtime unless OpenVINO (``pip install 'handocr[openvino]'``)
is chosen: ``HANDOCR_RUNTIME`` (or a loader's ``runtime`` argument) is ``auto`` (the default),
``onnxruntime`` or ``openvino``. ``auto`` runs on OpenVINO only the models whose ``model.json`` has
an ``openvino`` entry (measured there on ``val``, with the precision it names) and only when
OpenVINO is installed; everything else on ONNX Runtime. ``openvino`` runs every model on it, at the
precision its ``model.json`` names (``float32`` when it names none). OpenVINO reads the same ONNX
files; on a CPU with bfloat16 units (AMX or AVX-512 BF16) a model may run there in ``bf16``, which
ONNX Runtime's CPU kernels do not do: on a Xeon with AMX the default recognizer reads a line in
about half the time so, at the same CER (see its model card). Where the CPU has no bfloat16 units
OpenVINO runs ``bf16`` models in float32.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from handocr.errors import RuntimeUnavailable

if TYPE_CHECKING:  # loaded on first use: the CLI reads RUNTIMES without loading a runtime
    import onnxruntime as ort

    from handocr.openvino_session import OpenVinoSession

RUNTIMES = ("auto", "onnxruntime", "openvino")


def available_cpus() -> int:
    """CPUs this process may use: the cgroup v2/v1 quota if set, else the affinity mask size."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = _cgroup_quota()
    return max(1, min(count, quota)) if quota else max(1, count)


def _cgroup_quota() -> int | None:
    try:
        text = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if text and text[0] != "max":
            return max(1, int(int(text[0]) / int(text[1]) + 0.5))
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        if quota > 0 and period > 0:
            return max(1, int(quota / period + 0.5))
    except (OSError, ValueError):
        pass
    return None


def default_threads() -> int:
    """Intra-op threads: ``HANDOCR_THREADS`` if set, else the available CPUs."""
    env = os.environ.get("HANDOCR_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return available_cpus()


def spin_wait() -> bool:
    """Whether ONNX Runtime's intra-op threads busy-wait for work between operators.

    Off unless ``HANDOCR_SPIN_WAIT=1``. Spinning keeps the cores busy while a thread waits, so two
    reads running at once (the service runs two) slow each other down: with the fast recognizer on
    2 cores, HTTP p95 at 3 pages/s fell from 761 to 429 ms with it off, and a page took 0.33 instead
    of 0.41 CPU-seconds with no change in single-page latency (``bench.http_load``, ``bench.latency``).
    """
    return os.environ.get("HANDOCR_SPIN_WAIT", "0") == "1"


def openvino_installed() -> bool:
    """Whether the ``openvino`` package can be imported (without importing it)."""
    return importlib.util.find_spec("openvino") is not None


def runtime_choice(requested: str | None, openvino: Mapping[str, Any] | None) -> str:
    """The runtime (``onnxruntime`` or ``openvino``) that runs a model: ``requested`` (else
    ``HANDOCR_RUNTIME``, else ``auto``; see the module docstring), given the model's ``openvino``
    entry in its ``model.json`` (``None`` when it has none). Raises ``RuntimeUnavailable`` for an unknown
    name, or for ``openvino`` when OpenVINO is not installed."""
    name = requested or os.environ.get("HANDOCR_RUNTIME") or "auto"
    if name not in RUNTIMES:
        raise RuntimeUnavailable(f"unknown runtime {name!r} (HANDOCR_RUNTIME): one of {', '.join(RUNTIMES)}")
    if name == "auto":
        return "openvino" if openvino is not None and openvino_installed() else "onnxruntime"
    if name == "openvino" and not openvino_installed():
        raise RuntimeUnavailable("the openvino runtime needs OpenVINO: pip install 'handocr[openvino]'")
    return name


Session = Union["ort.InferenceSession", "OpenVinoSession"]


def make_session(
    path: Path,
    threads: int | None = None,
    runtime: str | None = None,
    openvino: Mapping[str, Any] | None = None,
) -> Session:
    """An inference session for the ONNX file at ``path`` with ``threads`` intra-op threads, on the
    runtime :func:`runtime_choice` picks for ``runtime`` and the model's ``openvino`` entry (its
    ``precision`` used there). On ONNX Runtime, threads spin only if :func:`spin_wait`."""
    threads = threads or default_threads()
    if runtime_choice(runtime, openvino) == "openvino":
        from handocr.openvino_session import OpenVinoSession

        return OpenVinoSession(path, threads, str((openvino or {}).get("precision", "f32")))
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin_wait() else "0")
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def describe_session(session: object) -> str:
    """What runs a session: ``onnxruntime``, ``openvino (bf16)`` and the like, or ``-`` for none."""
    if hasattr(session, "precision"):  # an OpenVinoSession
        return f"openvino ({session.precision})"
    return "onnxruntime" if hasattr(session, "get_modelmeta") else "-"


def model_metadata(session: Session) -> dict[str, str]:
    """The ``metadata_props`` of a session's model as a dict."""
    if hasattr(session, "metadata"):  # an OpenVinoSession
        return dict(session.metadata)
    return dict(session.get_modelmeta().custom_metadata_map)
