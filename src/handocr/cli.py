"""The ``handocr`` command: read, eval, train, export, serve, models.

Exit codes: 0 success; 1 some inputs failed (each reported on one line); 2 usage error;
3 a model could not be loaded; 4 a training dependency is missing.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from handocr import __version__
from handocr.errors import HandocrError, ModelNotFound

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
    from handocr.imageio import decode_pages
    from handocr.pipeline import Reader, ReadOptions

    try:
        exporters = [get_exporter(name) for name in args.format.split(",")]
    except KeyError as exc:
        return _fail(str(exc.args[0]), EXIT_USAGE)
    inputs = expand_inputs(args.inputs)
    if not inputs:
        return _fail("no input files found", EXIT_USAGE)
    if args.output is None and (len(inputs) > 1 or any(e.name in {"overlay", "pdf"} for e in exporters)):
        return _fail("several inputs or a binary format need an output folder: -o DIR", EXIT_USAGE)
    try:
        reader = Reader.load(
            args.detector, args.recognizer, threads=args.threads, options=ReadOptions(review_below=args.review_below)
        )
    except (ModelNotFound, OSError) as exc:
        return _fail(f"cannot load models: {exc}", EXIT_MODEL)
    if args.output is not None:
        args.output.mkdir(parents=True, exist_ok=True)
    failures = 0
    progress = tqdm(inputs, unit="file", disable=args.quiet or len(inputs) < 2, file=sys.stderr)
    for path in progress:
        try:
            if (
                args.output is not None
                and args.skip_existing
                and all((args.output / f"{path.stem}{e.suffix}").exists() for e in exporters)
            ):
                continue
            start = time.perf_counter()
            images = decode_pages(path)
            document = reader.read_images(images, source=path.name, decode_ms=(time.perf_counter() - start) * 1000)
            for exporter in exporters:
                data = exporter.export(document, images)
                if args.output is None:
                    sys.stdout.write(data.decode("utf-8"))
                else:
                    target = args.output / f"{path.stem}{exporter.suffix}"
                    tmp = target.with_name(target.name + ".part")
                    tmp.write_bytes(data)
                    tmp.replace(target)
        except HandocrError as exc:
            failures += 1
            progress.write(f"handocr: error: {path}: {exc}", file=sys.stderr)
        except Exception as exc:  # one bad file must never stop the batch
            failures += 1
            progress.write(f"handocr: error: {path}: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
    if failures and len(inputs) > 1:
        print(f"handocr: {failures} of {len(inputs)} inputs failed", file=sys.stderr)
    return EXIT_SOME_FAILED if failures else EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate the models on dataset folders and print and write the metrics as JSON."""
    from handocr.evaluation.runner import evaluate_folder
    from handocr.pipeline import Reader

    try:
        reader = Reader.load(args.detector, args.recognizer, threads=args.threads)
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
    """List the models found in the model folders."""
    from handocr.models import model_roots

    for root in model_roots():
        for settings in sorted(root.glob("*/model.json")):
            meta = json.loads(settings.read_text())
            name_version = f"{meta.get('name')} {meta.get('version')}"
            print(f"{settings.parent.name}\t{meta.get('kind', '?')}\t{name_version}\t{settings.parent}")
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
    read.add_argument("--review-below", type=float, default=0.5, help="flag lines under this confidence")
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

    from handocr.training_cli import add_training_commands

    add_training_commands(sub)
    return parser


def _model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detector", default="line-detector", help="detector model name or folder")
    parser.add_argument("--recognizer", default="line-recognizer", help="recognizer model name or folder")
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads (default: CPUs available)")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``handocr`` command."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
