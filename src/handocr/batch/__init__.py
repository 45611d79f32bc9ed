"""Bulk OCR of folders and buckets on Ray Data (optional: ``pip install 'ray[data]'``).

``run_batch(input_uri, output_uri, formats=("json",), actors=N)`` reads every image and PDF below
``input_uri`` with one reader per Ray actor and writes one file per input and format under
``output_uri``; ``handocr batch`` is its command (see :mod:`handocr.batch.cli`).
"""

from handocr.batch.runner import (
    BatchSummary,
    FileFailure,
    MissingRay,
    ModelReaderFactory,
    PageWorker,
    output_names,
    run_batch,
)
from handocr.batch.storage import StorageError, Store

__all__ = [
    "BatchSummary",
    "FileFailure",
    "MissingRay",
    "ModelReaderFactory",
    "PageWorker",
    "StorageError",
    "Store",
    "output_names",
    "run_batch",
]
