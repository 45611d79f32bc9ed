"""``handocr batch INPUT_URI OUTPUT_URI [--format json,alto] [--actors N]``: bulk OCR on Ray Data.

Register it from the main parser with ``add_batch_command(subparsers)``. Exit codes follow
:mod:`handocr.cli`: 0 every file read; 1 some files failed (listed on stderr); 2 usage error
(unknown format, input not found); 3 a model could not be loaded; 4 Ray is not installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_MODEL, EXIT_MISSING_EXTRA = 0, 1, 2, 3, 4


def add_batch_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``batch`` subcommand to an ``argparse`` subparsers object and return its parser."""
    batch = subparsers.add_parser(
        "batch",
        help="bulk OCR of a folder or bucket on Ray (needs 'ray[data]')",
        description="Read every image and PDF below INPUT_URI with a pool of Ray actors and write one file "
        "per input and format under OUTPUT_URI. URIs: local folders, or s3://, gs://, abfs:// via pyarrow. "
        "Set RAY_ADDRESS to use an existing cluster.",
    )
    batch.add_argument("input_uri", metavar="INPUT_URI", help="folder, file or bucket URI of images/PDFs")
    batch.add_argument("output_uri", metavar="OUTPUT_URI", help="folder or bucket URI for the results")
    batch.add_argument("-f", "--format", default="json", help="output format(s), comma-separated (default: json)")
    batch.add_argument("--actors", type=int, default=1, help="Ray actors, one reader each (default: 1)")
    batch.add_argument("--cpus-per-actor", type=float, default=1.0, help="CPUs (and ONNX threads) per actor")
    batch.add_argument("--detector", default="line-detector", help="detector model name or folder")
    batch.add_argument("--recognizer", default="line-recognizer", help="recognizer model name or folder")
    batch.add_argument("--language", help="auto (default), any, or a language of the recognizer's (as handocr read)")
    batch.add_argument("--skip-existing", action="store_true", help="skip inputs whose outputs already exist")
    batch.add_argument("--local", action="store_true", help="run in this process, without Ray")
    batch.add_argument("--summary", help="also write the JSON summary to this local file")
    batch.set_defaults(func=cmd_batch)
    return batch


def cmd_batch(args: argparse.Namespace) -> int:
    """Run :func:`~handocr.batch.run_batch` and print its summary as JSON on stdout."""
    from handocr.batch.runner import MissingRay, ModelReaderFactory, run_batch
    from handocr.batch.storage import StorageError
    from handocr.errors import ModelNotFound, UnknownLanguage

    formats = [name.strip() for name in args.format.split(",") if name.strip()]
    if args.actors < 1:
        return _fail("--actors must be at least 1", EXIT_USAGE)
    threads = max(1, int(args.cpus_per_actor))
    factory = ModelReaderFactory(args.detector, args.recognizer, threads=threads, language=args.language)
    try:
        summary = run_batch(
            args.input_uri,
            args.output_uri,
            formats,
            actors=args.actors,
            cpus_per_actor=args.cpus_per_actor,
            reader_factory=factory,
            skip_existing=args.skip_existing,
            use_ray=not args.local,
        )
    except KeyError as exc:
        return _fail(str(exc.args[0]), EXIT_USAGE)
    except StorageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except MissingRay as exc:
        return _fail(str(exc), EXIT_MISSING_EXTRA)
    except ModelNotFound as exc:
        return _fail(f"cannot load models: {exc}", EXIT_MODEL)
    except UnknownLanguage as exc:
        return _fail(str(exc), EXIT_USAGE)
    except Exception as exc:  # Ray wraps actor-constructor errors (a model that will not load) in its own types
        if "ModelNotFound" in repr(exc):
            return _fail(f"cannot load models: {exc}", EXIT_MODEL)
        raise
    report = json.dumps(summary.to_dict(), indent=2)
    print(report)
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as handle:
            handle.write(report + "\n")
    for failure in summary.failed:
        print(f"handocr: {failure.name}: {failure.reason}", file=sys.stderr)
    return EXIT_SOME_FAILED if summary.failed else EXIT_OK


def _fail(message: str, code: int) -> int:
    print(f"handocr: error: {message}", file=sys.stderr)
    return code
