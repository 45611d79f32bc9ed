"""``handocr data check DIR``: a thin wrapper over :mod:`handocr.datasets.check`.

Exit codes: 0 the folder is usable for training; 1 problems would stop training; 2 usage error
(e.g. the model named by ``--charset-of`` cannot be found).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from handocr.errors import HandocrError

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def add_data_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``data check``."""
    data = sub.add_parser("data", help="inspect training data folders")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    check = data_sub.add_parser(
        "check",
        help="check a dataset folder (ALTO, PAGE-XML, METS, IAM, line folder, YOLO) before training",
    )
    check.add_argument("folder", type=Path, help="dataset folder")
    check.add_argument("--split", help="check only this split (train, val, test); default: every page")
    check.add_argument(
        "--charset-of", metavar="MODEL", help="recognizer model (name or folder) whose charset to check against"
    )
    check.add_argument(
        "--view", choices=("pages", "lines"), help="for a folder with both (IAM): check the pages or the line images"
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(func=cmd_data_check)


def charset_of_model(name_or_path: str):
    """The charset stored in a recognizer model's ONNX metadata (model name, folder or ``.onnx`` file)."""
    from handocr.models import find_model
    from handocr.recognition.charset import Charset
    from handocr.runtime import make_session, model_metadata

    path = Path(name_or_path)
    onnx_path = path if path.suffix == ".onnx" and path.is_file() else find_model(name_or_path).onnx_path
    meta = model_metadata(make_session(onnx_path, threads=1))
    if "charset" not in meta:
        raise HandocrError(f"{onnx_path}: no charset in the model's metadata (not a CTC recognizer?)")
    return Charset.from_json(meta["charset"]), str(onnx_path)


def cmd_data_check(args: argparse.Namespace) -> int:
    """Check a dataset folder and print the report; exit 1 when training would stop on it."""
    from handocr.datasets.check import check_dataset, format_report

    charset, source = None, ""
    if args.charset_of:
        try:
            charset, source = charset_of_model(args.charset_of)
        except (HandocrError, OSError) as exc:
            print(f"handocr: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    report = check_dataset(args.folder, charset=charset, split=args.split, charset_source=source, prefer=args.view)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(format_report(report))
    return EXIT_OK if report.usable else EXIT_PROBLEMS
