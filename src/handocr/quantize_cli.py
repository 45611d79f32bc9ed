"""``handocr quantize recognizer``: a recognizer model folder with int8 convolutions (and LSTMs).

Reads the source model (a name or folder, float32; a source that is already int8 starts again from
the float network in its ``model.pt``), cuts calibration crops from the ground-truth lines of the
``--split`` pages (``train`` by default; never calibrate on the pages you measure on), and writes
``--out``: the source's files (decoder, LM, lexicons, ``model.pt``) with ``model.onnx`` quantized
(see :mod:`handocr.training.quantize`) and ``model.json`` saying how (``int8``). Measure the result
with ``handocr eval`` and refit its confidences with ``handocr calibrate --write`` before shipping.

Exit codes: 0 done; 2 usage error (unknown model, no pages, ``--out`` the source folder); 4 the
``train`` extra is missing (``onnx``, and ``torch`` for an int8 source).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from handocr.errors import HandocrError

EXIT_OK, EXIT_USAGE, EXIT_MISSING_EXTRA = 0, 2, 4


def add_quantize_command(sub: argparse._SubParsersAction) -> None:
    """Register ``quantize recognizer``."""
    from handocr.training.quantize import DEFAULT_PERCENTILE

    quantize = sub.add_parser(
        "quantize", help="write a model folder with int8 convolutions and LSTMs (needs handocr[train])"
    )
    kinds = quantize.add_subparsers(dest="model_kind", required=True)
    p = kinds.add_parser("recognizer", help="a CTC line recognizer (ctc-onnx)")
    p.add_argument("--recognizer", default="line-recognizer", help="source model name or folder")
    p.add_argument("--data", type=Path, action="append", required=True, help="dataset folder (repeatable)")
    p.add_argument("--split", default="train", help="split to calibrate on (default: train)")
    p.add_argument("--pages", type=int, default=30, help="first pages of each folder to cut lines from (0: all)")
    p.add_argument("--every", type=int, default=2, help="take every n-th line of those pages (default 2)")
    p.add_argument("--percentile", type=float, default=DEFAULT_PERCENTILE, help="activation range percentile")
    p.add_argument("--out", type=Path, required=True, help="model folder to write (not the source's)")
    p.add_argument("--version", help="version written to model.json (default: the source's)")
    p.add_argument("--threads", type=int, help="ONNX Runtime threads (default: CPUs available)")
    p.set_defaults(func=cmd_quantize)


def cmd_quantize(args: argparse.Namespace) -> int:
    """Quantize, print the folder written."""
    try:
        out = quantize_folder(args)
    except ImportError as exc:
        print(
            f"handocr: error: quantizing needs the 'train' extra: pip install 'handocr[train]' ({exc})", file=sys.stderr
        )
        return EXIT_MISSING_EXTRA
    except (HandocrError, ValueError) as exc:
        print(f"handocr: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(out)
    return EXIT_OK


def calibration_crops(folders: list[Path], split: str, pages: int, every: int) -> list:
    """Grayscale crops of every ``every``-th recognition line of the first ``pages`` pages of each
    folder's ``split``: their ground-truth boxes as annotated, with the reader's crop margin."""
    from handocr.datasets.detect import open_dataset
    from handocr.pipeline import ReadOptions, ground_truth_line_crops

    crops = []
    for folder in folders:
        records = list(open_dataset(Path(folder), prefer="pages").pages(split))
        for record in records[:pages] if pages > 0 else records:
            crops.extend(crop for _, crop in ground_truth_line_crops(record, ReadOptions.crop_margin))
    return crops[:: max(1, every)]


def quantize_folder(args: argparse.Namespace) -> Path:
    """Write the quantized model folder ``args.out`` (see the module docstring); return it."""
    from handocr.models import find_model, load_recognizer
    from handocr.training.quantize import calibration_batches, quantize_recognizer

    spec = find_model(args.recognizer)
    if spec.settings.get("backend") != "ctc-onnx":
        raise HandocrError(f"{spec.folder}: only CTC recognizers (ctc-onnx) can be quantized")
    out = Path(args.out)
    if out.resolve() == spec.folder.resolve():
        raise HandocrError("--out must be another folder than the source model's")
    crops = calibration_crops(args.data, args.split, args.pages, args.every)
    if not crops:
        raise HandocrError(f"no annotated lines in the {args.split!r} split of {', '.join(map(str, args.data))}")
    batches = calibration_batches(load_recognizer(args.recognizer, threads=args.threads), crops)
    out.mkdir(parents=True, exist_ok=True)
    for item in spec.folder.iterdir():
        if item.is_file() and item.name not in (spec.onnx_path.name, "README.md", "model.json"):
            shutil.copy2(item, out / item.name)
    with tempfile.TemporaryDirectory() as tmp:
        source = spec.onnx_path
        if "int8" in spec.settings:  # start again from the float network
            from handocr.training.recognizer import export_recognizer

            source = export_recognizer(spec.folder / "model.pt", Path(tmp) / "model.onnx")
        quantized = quantize_recognizer(source, out / "model.onnx", batches, args.percentile)
    settings = {**spec.settings, "file": "model.onnx", "version": args.version or spec.settings["version"]}
    settings["int8"] = {
        "quantized": "; ".join(quantized),
        "calibrated_on": f"{', '.join(str(f) for f in args.data)} [{args.split}], first {args.pages or 'all'} "
        f"pages each, every {args.every} line(s): {sum(len(b) for b in batches)} crops",
        "percentile": args.percentile,
    }
    (out / "model.json").write_text(json.dumps(settings, indent=2, ensure_ascii=False) + "\n")
    return out
