"""``handocr train`` and ``handocr export``: thin wrappers over :mod:`handocr.training`.

Torch and Ultralytics are imported only when these commands run (optional extra ``handocr[train]``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from handocr.errors import HandocrError
from handocr.pipeline import MIN_LINE_HEIGHT
from handocr.recognition.preprocess import WIDTH_SCALES
from handocr.training.architectures import ARCHITECTURES, CRNN_V1, PPOCR_V6

EXIT_USAGE, EXIT_MISSING_EXTRA = 2, 4
# model.json keys a re-export into the same folder keeps: how lines are cut and decoded, and the
# runtime's settings. Not the calibration maps, which were fitted to the earlier weights' outputs
# (refit them with `handocr calibrate --write`).
KEPT_ON_REEXPORT = (
    "temperature",
    "crop_trim",
    "decoder",
    "beam_width",
    "lm",
    "lm_weight",
    "insertion_bonus",
    "prune_threshold",
    "lexicon",
    "oov_penalty",
    "languages",
    "openvino",
)


def add_training_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``train detector|recognizer`` and ``export detector|recognizer``."""
    train = sub.add_parser("train", help="train a detector or recognizer (needs handocr[train])")
    train_sub = train.add_subparsers(dest="model_kind", required=True)
    for kind in ("detector", "recognizer"):
        p = train_sub.add_parser(kind, help=f"train the line {kind}")
        p.add_argument("--data", type=Path, action="append", required=True, help="dataset folder (repeatable)")
        p.add_argument("--split", default="train", help="split to train on (default: train)")
        p.add_argument("--out", type=Path, default=Path(f"runs/{kind}"), help="run folder (checkpoints, logs)")
        p.add_argument("--hours", type=float, help="wall-time budget; the schedule fits it")
        p.add_argument("--epochs", type=int, default=30 if kind == "recognizer" else 80)
        p.add_argument("--batch", type=int, default=24 if kind == "recognizer" else 8)
        p.add_argument("--threads", type=int, default=1, help="torch threads (1 is best beside other work)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--device", default="cpu", help="cpu, or a CUDA device such as 0")
        p.add_argument("--resume", action="store_true", help="resume from the run folder's last checkpoint")
        if kind == "detector":
            p.add_argument("--imgsz", type=int, default=512)
            p.add_argument(
                "--model",
                default="yolov8n.yaml",
                help="Ultralytics model yaml (built from scratch) or a .pt to start from "
                "(e.g. models/line-detector/model.pt)",
            )
            p.add_argument(
                "--lr",
                type=float,
                help="AdamW peak learning rate (default: Ultralytics' automatic choice, 0.002 for one "
                "class); lower it to continue from trained weights without a warm-restart dip",
            )
        else:
            p.add_argument("--max-steps", type=int, help="stop after this many steps (smoke tests)")
            p.add_argument(
                "--arch",
                choices=sorted(ARCHITECTURES),
                help="architecture: from scratch crnn-v1 (the default; compact), crnn-wide (twice its "
                "channels), ppocrv6-small (PP-OCRv6 from the rapidocr wheel, fine-tuned; the shipped "
                "default), ppocrv6-lite (ppocrv6-small at 32 rows and a quarter of its MACs) or "
                "ppocrv6-slim (ppocrv6-lite with half the hidden channels of its blocks, two thirds of its "
                "MACs); with --from, the weights' own, crnn-wide to grow crnn-v1 weights into it, or a "
                "PP-OCR variant to start it from another's weights (ppocrv6-slim keeps the hidden channels "
                "that carry the most)",
            )
            p.add_argument(
                "--from",
                dest="init",
                default="scratch",
                metavar="shipped|scratch|PATH",
                help="start from the shipped recognizer's weights, from scratch (default), or from a "
                "model.pt / checkpoint / model or run folder",
            )
            p.add_argument(
                "--lr", type=float, help="peak learning rate (default 1e-3 from scratch, 3e-4 from pretrained weights)"
            )
            p.add_argument("--warmup", type=int, default=300, help="learning-rate warm-up steps (default 300)")
            p.add_argument("--patience", type=int, help="stop after N holdout evaluations without improvement")
            p.add_argument("--eval-steps", type=int, help="evaluate the holdout pages every N steps")
            p.add_argument("--eval-minutes", type=float, default=10.0, help="... and every N minutes (default 10)")
            p.add_argument("--holdout", type=float, default=0.05, help="fraction of pages held out (default 0.05)")
            p.add_argument(
                "--synth",
                type=Path,
                action="append",
                default=[],
                metavar="DIR",
                help="generated pages to mix in (a folder written by 'handocr synth'; repeatable)",
            )
            p.add_argument(
                "--synth-ratio",
                type=float,
                default=0.2,
                help="share of synthetic lines in each epoch when --synth is given (default 0.2)",
            )
            p.add_argument(
                "--width-scale",
                type=float,
                help="train to read lines squeezed to this share of their width (the model's width_scale; "
                "below 1 reads faster; default: that of the --from weights, else 1)",
            )
            p.add_argument(
                "--min-line-height",
                type=float,
                default=MIN_LINE_HEIGHT,
                help="grow line boxes lower than this share of the page's median box height before cutting "
                f"them, as the reader does (default {MIN_LINE_HEIGHT}; 0: cut every box as annotated)",
            )
            p.add_argument(
                "--teacher",
                metavar="NAME",
                help="distil from this CTC recognizer (a model name or folder, e.g. line-recognizer): the "
                "student also learns its per-frame posteriors; the geometries must line up (for crnn-v1 "
                "under ppocrv6-small: --width-scale 0.75)",
            )
            p.add_argument(
                "--distill-weight", type=float, default=1.0, help="weight of the distillation term (default 1)"
            )
            p.add_argument(
                "--distill-share",
                type=float,
                default=0.5,
                help="share of batches distilled (crops only recoloured, blurred or noised unless --teacher-online; "
                "default 0.5)",
            )
            p.add_argument(
                "--teacher-online",
                action="store_true",
                help="the teacher reads each distilled batch as the student sees it, fully augmented "
                "(margins, slant, width; generated lines too), instead of once unaugmented: more varied "
                "targets, the teacher's time every such step",
            )
            p.add_argument(
                "--ema",
                type=float,
                default=0.0,
                metavar="DECAY",
                help="keep an exponential moving average of the weights at this decay (e.g. 0.9995): the "
                "holdout, best.ckpt and exports read it; 0 (default): off",
            )
            p.add_argument(
                "--install",
                metavar="NAME",
                help="export the best model to a model folder NAME (in HANDOCR_MODELS or models/) with a model card",
            )
        p.set_defaults(func=cmd_train)

    export = sub.add_parser("export", help="export a checkpoint to an ONNX model folder (needs handocr[train])")
    export_sub = export.add_subparsers(dest="model_kind", required=True)
    for kind in ("detector", "recognizer"):
        p = export_sub.add_parser(kind)
        if kind == "detector":
            p.add_argument("--checkpoint", type=Path, required=True)
        else:
            p.add_argument(
                "--checkpoint",
                type=Path,
                action="append",
                required=True,
                help="a run's checkpoint or a model.pt; repeat it to export the uniform mean of several runs' "
                "weights (same architecture, charset and width scale: continuations of the same weights)",
            )
        p.add_argument("--out", type=Path, required=True, help="model folder to write (model.onnx + model.json)")
        p.add_argument("--name", default=f"handocr-line-{kind}")
        p.add_argument("--version", default="0.1.0")
        if kind == "detector":
            p.add_argument("--imgsz", type=int, default=512)
            p.add_argument("--conf", type=float, default=0.25, help="score threshold written to model.json")
            p.add_argument("--iou", type=float, default=0.5, help="NMS IoU threshold written to model.json")
            p.add_argument(
                "--square",
                action="store_true",
                help="a fixed imgsz x imgsz input, every page letterboxed into it (the default before detector "
                "0.5.1); without it the input is dynamic: pages scaled to imgsz on their longer side, padded to "
                "multiples of 32 (the same boxes, fewer pixels)",
            )
        p.set_defaults(func=cmd_export)


def _missing_extra(exc: ImportError) -> int:
    print(f"handocr: error: training needs the 'train' extra: pip install 'handocr[train]' ({exc})", file=sys.stderr)
    return EXIT_MISSING_EXTRA


def cmd_train(args: argparse.Namespace) -> int:
    """Train a detector or recognizer on dataset folders."""
    from handocr.datasets.collection import load_pages
    from handocr.datasets.linefolder import is_line_image

    try:
        pages = load_pages(args.data, args.split, prefer="pages" if args.model_kind == "detector" else "lines")
    except HandocrError as exc:
        print(f"handocr: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not pages:
        print("handocr: error: no pages found for that split", file=sys.stderr)
        return EXIT_USAGE
    if args.model_kind == "detector" and all(is_line_image(p) for p in pages):
        print("handocr: error: these are line images: the detector needs pages with line boxes", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.model_kind == "detector":
            from handocr.training.detector import DetectorTrainConfig, train_detector, write_yolo_dataset

            config = DetectorTrainConfig(
                out_dir=args.out,
                model_yaml=args.model,
                imgsz=args.imgsz,
                epochs=args.epochs,
                hours=args.hours,
                batch=args.batch,
                threads=args.threads,
                seed=args.seed,
                device=args.device,
                lr=args.lr,
            )
            data_yaml = args.out / "data" / "data.yaml"
            if not data_yaml.exists():
                write_yolo_dataset(pages, args.out / "data", config.holdout_fraction, config.seed)
            best = train_detector(data_yaml, config, resume=args.resume)
        else:
            best = _train_recognizer(args, pages)
    except ImportError as exc:
        return _missing_extra(exc)
    except HandocrError as exc:
        print(f"handocr: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(best)
    return 0


def _train_recognizer(args: argparse.Namespace, pages: list) -> Path:
    """Train (or fine-tune) the recognizer; with ``--install``, export the best model as a model folder."""
    from handocr.datasets.collection import load_pages
    from handocr.training.finetune import resolve_init
    from handocr.training.grow import grow_weights
    from handocr.training.install import install_recognizer, install_target
    from handocr.training.recognizer import RecognizerTrainConfig, RecognizerTrainer

    if args.install:
        install_target(args.install)  # refuse a bad name before hours of training
    if not 0 <= args.synth_ratio < 1:
        raise HandocrError(f"--synth-ratio must be at least 0 and below 1, not {args.synth_ratio}")
    low, high = WIDTH_SCALES
    if args.width_scale is not None and not low <= args.width_scale <= high:
        raise HandocrError(f"--width-scale must be between {low} and {high}, not {args.width_scale}")
    if not 0 <= args.min_line_height <= 1.5:
        raise HandocrError(f"--min-line-height must be between 0 and 1.5, not {args.min_line_height}")
    if args.teacher_online and not args.teacher:
        raise HandocrError("--teacher-online needs --teacher")
    if not 0 <= args.ema < 1:
        raise HandocrError(f"--ema must be at least 0 and below 1, not {args.ema}")
    if args.teacher and not (0 < args.distill_share <= 1 and args.distill_weight > 0):
        raise HandocrError("--distill-share must be in (0, 1] and --distill-weight above 0")
    synth_pages = load_pages(args.synth, "train", prefer="pages") if args.synth else []
    if args.synth and not synth_pages:
        raise HandocrError(f"no generated pages in the train split of {', '.join(map(str, args.synth))}")
    init = resolve_init(args.init)
    if init is not None and args.arch and args.arch != init.architecture:
        try:
            init = grow_weights(init, args.arch)
        except ValueError:
            raise HandocrError(
                f"--from weights are {init.architecture}, which cannot grow into --arch {args.arch}"
            ) from None
    arch = args.arch or (init.architecture if init is not None else CRNN_V1.name)
    config = RecognizerTrainConfig(
        out_dir=args.out,
        hours=args.hours,
        epochs=args.epochs,
        batch=args.batch,
        lr=args.lr or (1e-3 if init is None and arch != PPOCR_V6.name else 3e-4),
        threads=args.threads,
        seed=args.seed,
        holdout_fraction=args.holdout,
        eval_minutes=args.eval_minutes,
        max_steps=args.max_steps,
        device=args.device,
        patience=args.patience,
        eval_steps=args.eval_steps,
        init=args.init,
        arch=arch,
        warmup_steps=args.warmup,
        synth_ratio=args.synth_ratio if synth_pages else 0.0,
        width_scale=args.width_scale or (init.width_scale if init is not None else 1.0),
        min_line_height=args.min_line_height,
        teacher=args.teacher,
        distill_weight=args.distill_weight,
        distill_share=args.distill_share,
        teacher_online=args.teacher_online,
        ema_decay=args.ema,
    )
    trainer = RecognizerTrainer(pages, config, init=init, synth_pages=synth_pages)
    if args.resume and trainer.resume():
        print(f"resumed at step {trainer.step}", file=sys.stderr)
    best = trainer.train()
    if args.install:
        base = init.charset.characters if init is not None else ""
        summary = {
            "init": trainer.init_source,
            "cer_before": trainer.initial_cer,
            "cer_after": None if trainer.best_cer == float("inf") else trainer.best_cer,
            "steps": trainer.step,
            "minutes": trainer.elapsed / 60,
            "data": [str(d) for d in args.data],
            "split": args.split,
            "train_lines": len(trainer.train_samples),
            "synth": [str(d) for d in args.synth],
            "synth_ratio": config.synth_ratio,
            "synth_lines": len(trainer.synth_samples),
            "width_scale": config.width_scale,
            "min_line_height": config.min_line_height,
            "teacher": config.teacher,
            "teacher_online": config.teacher_online,
            "ema_decay": config.ema_decay,
            "holdout_lines": len(trainer.holdout_samples),
            "charset_added": trainer.charset.characters[len(base) :] if base else "",
        }
        folder = install_recognizer(best, args.install, summary)
        print(f"installed: {folder} (use it: handocr read --recognizer {folder.name} IMAGE)", file=sys.stderr)
    return best


def cmd_export(args: argparse.Namespace) -> int:
    """Export a checkpoint to ``OUT/model.onnx`` with its ``model.json``."""
    try:
        if args.model_kind == "detector":
            from handocr.training.detector import export_detector

            export_detector(args.checkpoint, args.out / "model.onnx", args.imgsz, dynamic=not args.square)
            settings = {
                "kind": "detector",
                "backend": "yolo-onnx",
                "conf_threshold": args.conf,
                "iou_threshold": args.iou,
                "imgsz": args.imgsz,
            }
        else:
            from handocr.training.recognizer import export_weights, read_export_sources

            weights, provenance = read_export_sources(args.checkpoint)
            export_weights(weights, provenance, args.out / "model.onnx")
            settings = {
                "kind": "recognizer",
                "backend": "ctc-onnx",
                "temperature": 1.0,
                "width_scale": weights.width_scale,  # the same in all when averaged (checked)
            }
    except ImportError as exc:
        return _missing_extra(exc)
    except HandocrError as exc:
        print(f"handocr: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    settings = {"name": args.name, "version": args.version, "file": "model.onnx", **settings}
    settings_file = args.out / "model.json"
    if settings_file.exists():  # keep the crop and decoder settings chosen earlier (KEPT_ON_REEXPORT)
        earlier = json.loads(settings_file.read_text())
        settings = {**settings, **{k: v for k, v in earlier.items() if k in KEPT_ON_REEXPORT}}
    settings_file.write_text(json.dumps(settings, indent=2) + "\n")
    print(args.out)
    return 0
