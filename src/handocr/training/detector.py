"""Train the YOLOv8 line detector with Ultralytics and export it to ONNX.

The dataset is written in YOLO format from annotated pages: one class (``line``), boxes from the
line polygons. Ignore regions (the printed consent band of the Copiste pages) are painted with the
page's paper colour in the training images, so they give neither positives nor negatives.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from handocr.datasets.records import PageRecord
from handocr.training.offline import prepare_ultralytics_offline, set_torch_threads


@dataclass
class DetectorTrainConfig:
    """Settings of one detector training run."""

    out_dir: Path = Path("runs/detector")
    model_yaml: str = "yolov8n.yaml"
    imgsz: int = 640
    epochs: int = 100
    hours: float | None = None
    batch: int = 8
    threads: int = 1
    seed: int = 0
    holdout_fraction: float = 0.06
    device: str = "cpu"
    lr: float | None = None  # AdamW peak learning rate; None lets Ultralytics choose


def write_yolo_dataset(pages: list[PageRecord], out_dir: Path, holdout_fraction: float, seed: int) -> Path:
    """Write ``pages`` as a YOLO dataset under ``out_dir`` and return its ``data.yaml``.

    A ``holdout_fraction`` of the pages (by page, seeded) becomes Ultralytics' own validation set,
    used for its checkpoint selection; the real ``val`` split is never used for training.
    """
    rng = random.Random(seed)
    order = list(range(len(pages)))
    rng.shuffle(order)
    n_hold = max(1, int(len(pages) * holdout_fraction))
    holdout = set(order[:n_hold])
    for i, page in enumerate(pages):
        part = "val" if i in holdout else "train"
        image_dir = out_dir / "images" / part
        label_dir = out_dir / "labels" / part
        image_dir.mkdir(parents=True, exist_ok=True)
        label_dir.mkdir(parents=True, exist_ok=True)
        name = f"{page.image_path.parent.parent.name}_{page.stem}"
        _write_page_image(page, image_dir / f"{name}.jpg")
        (label_dir / f"{name}.txt").write_text(yolo_labels(page))
    data_yaml = out_dir / "data.yaml"
    data_yaml.write_text(f"path: {out_dir.resolve()}\ntrain: images/train\nval: images/val\nnames:\n  0: line\n")
    return data_yaml


def yolo_labels(page: PageRecord) -> str:
    """YOLO label lines (``0 cx cy w h``, normalised to the page size) for every line of ``page``."""
    rows = []
    for line in page.lines:
        x0, y0, x1, y1 = line.box
        x0, x1 = max(0.0, x0), min(float(page.width), x1)
        y0, y1 = max(0.0, y0), min(float(page.height), y1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        cx, cy = (x0 + x1) / 2 / page.width, (y0 + y1) / 2 / page.height
        rows.append(f"0 {cx:.6f} {cy:.6f} {(x1 - x0) / page.width:.6f} {(y1 - y0) / page.height:.6f}")
    return "\n".join(rows) + ("\n" if rows else "")


def _write_page_image(page: PageRecord, target: Path) -> None:
    image = Image.open(page.image_path).convert("RGB")
    if page.ignore_regions:
        pixels = np.asarray(image).copy()
        paper = np.median(pixels.reshape(-1, 3), axis=0).astype(np.uint8)
        keep = np.zeros(pixels.shape[:2], dtype=bool)
        for line in page.lines:
            x0, y0, x1, y1 = (round(v) for v in line.box)
            keep[max(0, y0) : y1, max(0, x0) : x1] = True
        for x0, y0, x1, y1 in page.ignore_regions:
            region = np.zeros_like(keep)
            region[int(y0) : int(np.ceil(y1)), int(x0) : int(np.ceil(x1))] = True
            pixels[region & ~keep] = paper
        image = Image.fromarray(pixels)
    image.save(target, quality=92)


def train_detector(data_yaml: Path, config: DetectorTrainConfig, resume: bool = False) -> Path:
    """Train (or resume) the detector; return the path of the best checkpoint.

    ``config.hours``, when set, bounds the run by wall time (Ultralytics fits its schedule to it).
    """
    prepare_ultralytics_offline(Path(".yolo"))
    from ultralytics import YOLO

    run_dir = config.out_dir.resolve()
    last = run_dir / "train" / "weights" / "last.pt"

    def on_train_start(trainer) -> None:  # Ultralytics resets torch threads to cpu_count - 1
        set_torch_threads(config.threads)

    if resume and last.is_file():
        model = YOLO(str(last))
        model.add_callback("on_train_start", on_train_start)
        model.train(resume=True)
    else:
        model = YOLO(config.model_yaml)
        model.add_callback("on_train_start", on_train_start)
        extra = {"time": config.hours} if config.hours else {}
        if config.lr:
            extra.update(optimizer="AdamW", lr0=config.lr)
        model.train(
            data=str(data_yaml),
            imgsz=config.imgsz,
            epochs=config.epochs,
            batch=config.batch,
            workers=0,
            device=config.device,
            project=str(run_dir),
            name="train",
            exist_ok=True,
            seed=config.seed,
            deterministic=True,
            plots=False,
            amp=False,
            fliplr=0.0,
            degrees=2.0,
            patience=1000,
            cache="ram",
            **extra,
        )
    return run_dir / "train" / "weights" / "best.pt"


def export_detector(checkpoint: Path, target: Path, imgsz: int, dynamic: bool = True) -> Path:
    """Export a detector checkpoint to ONNX at ``target``: with a dynamic input that the detector
    fills with each page scaled to ``imgsz`` on its longer side and padded to multiples of 32
    (``dynamic``, the default since detector 0.5.1), or a fixed ``imgsz`` square input.

    Ultralytics writes its ONNX file beside the weights it loads, which would overwrite a model
    folder's own ``model.onnx`` when exporting its ``model.pt`` at another size; the weights are
    therefore copied to a scratch folder and exported there.
    """
    prepare_ultralytics_offline(Path(".yolo"))
    from ultralytics import YOLO

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="handocr-export-") as scratch:
        weights = Path(scratch) / "model.pt"
        shutil.copyfile(checkpoint, weights)
        exported = YOLO(str(weights)).export(format="onnx", imgsz=imgsz, opset=17, simplify=True, dynamic=dynamic)
        shutil.move(str(exported), target)
    record = {"checkpoint": str(checkpoint), "imgsz": imgsz, "dynamic": dynamic}
    (target.with_suffix(".train.json")).write_text(json.dumps(record))
    return target
