"""The ``handocr`` command: read, eval, train, export, serve, models.

Exit codes: 0 success; 1 some inputs failed (each reported on one line); 2 usage error;
3 a model could not be loaded; 4 a training dependency is missing.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from handocr import __version__
from handocr.errors import HandocrError, ModelNotFound, UnknownLanguage
from handocr.runtime import RUNTIMES

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".pdf"}
EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_MODEL, EXIT_MISSING_EXTRA = 0, 1, 2, 3, 4


def _fail(message: str, code: int) -> int:
    print(f"handocr: error: {message}", file=sys.stderr)
    return code


def expand_inputs(items: Iterable[str]) -> list[Path]:
    """Files named directly, image files inside folders, and glob matches, in a stable order.

    A name that matches nothing is kept, so that it is reported as missing.
    """
    out: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()))
        elif any(ch in item for ch in "*?["):
            out.extend(sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file()))
        else:
            out.append(path)
    return list(dict.fromkeys(out))


def cmd_read(args: argparse.Namespace) -> int:
    """Read inputs and write one file per input and format (or print to stdout without ``-o``)."""
    from tqdm import tqdm

    from handocr.exporters import get_exporter
    from handocr.read_many import ReadJob, read_many, report_failures

    formats = tuple(name.strip() for name in args.format.split(",") if name.strip())
    try:
        exporters = [get_exporter(name) for name in formats]
    except KeyError as exc:
        return _fail(str(exc.args[0]), EXIT_USAGE)
    inputs = expand_inputs(args.inputs)
    if not inputs:
        return _fail("no input files found", EXIT_USAGE)
    if args.output is None and (len(inputs) > 1 or any(e.name in {"overlay", "pdf"} for e in exporters)):
        return _fail("several inputs or a binary format need an output folder: -o DIR", EXIT_USAGE)
    threads = args.threads
    if args.workers > 1 and threads is None:
        from handocr.runtime import available_cpus

        threads = max(1, available_cpus() // args.workers)
    job = ReadJob(
        formats,
        args.output,
        args.detector,
        args.recognizer,
        threads,
        review_below=args.review_below,
        skip_existing=args.skip_existing,
        review_words_below=args.review_words_below,
        language=args.language,
        runtime=args.runtime,
    )
    if args.output is not None:
        args.output.mkdir(parents=True, exist_ok=True)
    try:
        results = []
        progress = tqdm(total=len(inputs), unit="file", disable=args.quiet or len(inputs) < 2, file=sys.stderr)
        for result in read_many(inputs, job, workers=args.workers):
            results.append(result)
            progress.update(1)
            if result.status == "failed":
                progress.write(f"handocr: error: {result.path}: {result.error}", file=sys.stderr)
            elif result.stdout:
                sys.stdout.write(result.stdout.decode("utf-8"))
        progress.close()
    except UnknownLanguage as exc:
        return _fail(str(exc), EXIT_USAGE)
    except (ModelNotFound, OSError) as exc:
        return _fail(f"cannot load models: {exc}", EXIT_MODEL)
    failures = sum(r.status == "failed" for r in results)
    if len(inputs) > 1:
        report_failures(results)
    return EXIT_SOME_FAILED if failures else EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate the models on dataset folders and print and write the metrics as JSON."""
    from handocr.evaluation.runner import evaluate_folder
    from handocr.pipeline import Reader, ReadOptions

    try:
        options = ReadOptions(language=args.language or ReadOptions.language)
        reader = Reader.load(
            args.detector, args.recognizer, threads=args.threads, options=options, runtime=args.runtime
        )
    except UnknownLanguage as exc:
        return _fail(str(exc), EXIT_USAGE)
    except (ModelNotFound, OSError) as exc:
        return _fail(f"cannot load models: {exc}", EXIT_MODEL)
    results = {"models": reader.models.model_dump(), "sets": []}
    for folder in args.data:
        try:
            result = evaluate_folder(reader, folder, args.split, limit=args.limit)
        except HandocrError as exc:
            return _fail(str(exc), EXIT_USAGE)
        results["sets"].append(result)
        print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the HTTP service."""
    try:
        from handocr.service import ServiceConfigError, run
    except ImportError as exc:
        return _fail(f"the service needs the 'serve' extra: pip install 'handocr[serve]' ({exc})", EXIT_MISSING_EXTRA)
    try:
        run(host=args.host, port=args.port)
    except ServiceConfigError as exc:
        return _fail(str(exc), EXIT_USAGE)
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    """List the models found in the model folders (a recognizer's languages, if any, last)."""
    from handocr.models import model_roots

    for root in model_roots():
        for settings in sorted(root.glob("*/model.json")):
            meta = json.loads(settings.read_text())
            name_version = f"{meta.get('name')} {meta.get('version')}"
            languages = ",".join(meta.get("languages") or {})
            row = f"{settings.parent.name}\t{meta.get('kind', '?')}\t{name_version}\t{settings.parent}"
            print(f"{row}\tlanguages: {languages}" if languages else row)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="handocr", description="Find and read handwriting on page images.")
    parser.add_argument("--version", action="version", version=f"handocr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    read = sub.add_parser("read", help="read page images (files, folders, globs)")
    read.add_argument("inputs", nargs="+", help="image or PDF files, folders or glob patterns")
    read.add_argument("-o", "--output", type=Path, help="output folder (default: print to stdout)")
    read.add_argument("-f", "--format", default="text", help="output format(s), comma-separated (default: text)")
    read.add_argument("--skip-existing", action="store_true", help="skip inputs whose outputs already exist")
    read.add_argument(
        "--review-below",
        type=float,
        help="flag lines under this confidence needs_review (default: the pipeline's, chosen on val)",
    )
    read.add_argument(
        "--review-words-below",
        type=float,
        help="flag words under this confidence needs_review (default: the pipeline's, chosen on val)",
    )
    read.add_argument("-j", "--workers", type=int, default=1, help="worker processes (each loads the models once)")
    read.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _model_args(read)
    read.set_defaults(func=cmd_read)

    ev = sub.add_parser("eval", help="measure accuracy and speed on annotated pages")
    ev.add_argument("--data", type=Path, action="append", required=True, help="dataset folder (repeatable)")
    ev.add_argument("--split", default="val", help="split name from split.json, or 'all'")
    ev.add_argument("--limit", type=int, help="at most this many pages per set")
    ev.add_argument("--out", type=Path, help="write the results JSON here")
    _model_args(ev)
    ev.set_defaults(func=cmd_eval)

    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=cmd_serve)

    models = sub.add_parser("models", help="list installed models")
    models.set_defaults(func=cmd_models)

    from handocr.batch.cli import add_batch_command
    from handocr.calibrate_cli import add_calibrate_command
    from handocr.data_cli import add_data_commands
    from handocr.datasets.synth.dataset import add_synth_command
    from handocr.quantize_cli import add_quantize_command
    from handocr.training_cli import add_training_commands

    add_training_commands(sub)
    add_data_commands(sub)
    add_batch_command(sub)
    add_synth_command(sub)
    add_calibrate_command(sub)
    add_quantize_command(sub)
    return parser


def _model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detector", default="line-detector", help="detector model name or folder")
    parser.add_argument("--recognizer", default="line-recognizer", help="recognizer model name or folder")
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads (default: CPUs available)")
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        help="what runs the networks: auto (default, or HANDOCR_RUNTIME: OpenVINO for the models measured "
        "there, when installed), onnxruntime, or openvino (pip install 'handocr[openvino]')",
    )
    parser.add_argument(
        "--language",
        help="auto (default: guessed per page), any (the general decoder), or a code the recognizer has "
        "a decoder for (see 'handocr models')",
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``handocr`` command."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
