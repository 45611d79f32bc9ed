"""ONNX Runtime sessions sized to the CPUs this process may really use (cgroup quota, affinity)."""

from __future__ import annotations

import os
from pathlib import Path

import onnxruntime as ort


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


def make_session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    """A CPU inference session for the ONNX file at ``path`` with ``threads`` intra-op threads
    (threads spin only if :func:`spin_wait`)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or default_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin_wait() else "0")
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def model_metadata(session: ort.InferenceSession) -> dict[str, str]:
    """The ``metadata_props`` of a session's model as a dict."""
    return dict(session.get_modelmeta().custom_metadata_map)
