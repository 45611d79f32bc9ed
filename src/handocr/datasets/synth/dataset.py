"""Write synthetic pages as a YOLO dataset with each line's text, read them back, and the command line.

Layout of ``OUT`` (Ultralytics reads ``data.yaml``; :class:`handocr.datasets.yolo.YoloFolder` reads it too)::

    data.yaml                      path (absolute), train: images/train, val: images/val, names: {0: line}
    images/{train,val}/STEM.jpg    the pages
    labels/{train,val}/STEM.txt    one row per line: ``0 cx cy w h``, normalised to the image
    texts/{train,val}/STEM.txt     the text of each line, one per row, in the label file's order
    manifest.json                  seed, options, fonts, text source, counts

Page ``i`` of seed ``S`` is drawn from ``numpy.random.default_rng([S, i])``: the same pages come out
whatever the number of workers, and more pages can be added later with ``start``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from handocr.datasets.records import PageRecord
from handocr.datasets.synth.fonts import FontFace, load_faces
from handocr.datasets.synth.page import SynthOptions, SynthPage, default_text_source, generate_page
from handocr.datasets.synth.text import TextSource
from handocr.datasets.yolo import YoloFolder


def yolo_rows(page: SynthPage) -> list[str]:
    """``0 cx cy w h`` rows (normalised to the image size) for the page's lines, in order."""
    width, height = page.image.size
    rows = []
    for line in page.lines:
        x0, y0, x1, y1 = line.box
        cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
        rows.append(f"0 {cx:.6f} {cy:.6f} {(x1 - x0) / width:.6f} {(y1 - y0) / height:.6f}")
    return rows


_WORKER: dict = {}


def _init_worker(faces: list[FontFace], texts: TextSource, options: SynthOptions) -> None:
    _WORKER.update(faces=faces, texts=texts, options=options)


def _make_page(job: tuple[int, int, str, str, str]) -> int:
    seed, index, split, stem, out = job
    page = generate_page(np.random.default_rng([seed, index]), _WORKER["faces"], _WORKER["texts"], _WORKER["options"])
    root = Path(out)
    for sub in ("images", "labels", "texts"):
        (root / sub / split).mkdir(parents=True, exist_ok=True)
    page.image.save(root / "images" / split / f"{stem}.jpg", quality=95)
    rows = yolo_rows(page)
    (root / "labels" / split / f"{stem}.txt").write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    (root / "texts" / split / f"{stem}.txt").write_text("".join(ln.text + "\n" for ln in page.lines), encoding="utf-8")
    return len(rows)


def write_dataset(
    out_dir: Path | str,
    n_pages: int,
    seed: int = 0,
    fonts: list[Path | str] | list[FontFace] | None = None,
    texts: TextSource | None = None,
    options: SynthOptions | None = None,
    photo_like: bool = False,
    val_fraction: float = 0.1,
    workers: int = 1,
    start: int = 0,
    progress: bool = False,
) -> Path:
    """Write pages ``start .. start + n_pages - 1`` of ``seed`` under ``out_dir``; return ``data.yaml``.

    The last ``val_fraction`` of the pages (at least one when there are two or more) go to ``val``,
    Ultralytics' checkpoint-selection set; never score a model on synthetic pages alone.
    """
    out = Path(out_dir)
    opts = replace(options or SynthOptions(), photo_like=photo_like or (options or SynthOptions()).photo_like)
    faces = fonts if fonts and all(isinstance(f, FontFace) for f in fonts) else load_faces(fonts)  # type: ignore[arg-type]
    texts = texts or default_text_source()
    n_val = min(n_pages - 1, max(1, round(n_pages * val_fraction))) if n_pages > 1 and val_fraction > 0 else 0
    prefix = "synthphoto" if opts.photo_like else "synth"
    jobs = [
        (seed, i, "val" if i - start >= n_pages - n_val else "train", f"{prefix}_{seed}_{i:06d}", str(out))
        for i in range(start, start + n_pages)
    ]
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tqdm(total=n_pages, disable=not progress, unit="page") as bar:
        if workers <= 1:
            _init_worker(faces, texts, opts)  # type: ignore[arg-type]
            counts = []
            for job in jobs:
                counts.append(_make_page(job))
                bar.update()
        else:
            init = (faces, texts, opts)
            with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=init) as pool:
                counts = []
                for count in pool.map(_make_page, jobs, chunksize=4):
                    counts.append(count)
                    bar.update()
    data_yaml = out / "data.yaml"
    data_yaml.write_text(f"path: {out.resolve()}\ntrain: images/train\nval: images/val\nnames:\n  0: line\n")
    manifest = {
        "generator": "handocr.datasets.synth",
        "seed": seed,
        "pages": {"start": start, "count": n_pages, "val": n_val},
        "lines": int(sum(counts)),
        "seconds": round(time.monotonic() - started, 1),
        "options": asdict(opts),
        "fonts": [f.name for f in faces],  # type: ignore[union-attr]
        "texts": "own corpus" if texts.corpus else ("faker+built-in" if texts.uses_faker else "built-in"),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return data_yaml


def load_synth_pages(root: Path | str, split: str | None = None) -> list[PageRecord]:
    """The pages of a written dataset with their lines' boxes and texts (for the recognizer's crops).

    Raises :class:`DatasetError` when a texts file does not have one row per label row.
    """
    return list(YoloFolder(Path(root)).pages(split))


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The command line's arguments, shared by ``python -m handocr.datasets.synth`` and ``handocr synth``."""
    parser.add_argument("out", type=Path, help="output folder (a YOLO dataset with texts/)")
    parser.add_argument("--pages", type=int, default=100, help="number of pages (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed: page i of seed S is always the same page")
    parser.add_argument("--start", type=int, default=0, help="first page index (to add pages to a set)")
    parser.add_argument("--fonts", type=Path, action="append", help="font file or folder (repeatable; default .fonts)")
    parser.add_argument("--photo", action="store_true", help="photo-like pages: perspective, shadows, a desk")
    parser.add_argument("--texts", type=Path, action="append", help="UTF-8 text file to take sentences from")
    parser.add_argument("--languages", default="fr,en", help="page languages, comma-separated (default fr,en)")
    parser.add_argument("--paper", default="random", help="random, white, plain, ruled, squared or seyes")
    parser.add_argument("--long-side", type=int, default=1600, help="page height in pixels (default 1600)")
    parser.add_argument("--label-printed", action="store_true", help="give printed header lines boxes too")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="share of pages in val (default 0.1)")
    parser.add_argument("-j", "--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def run(args: argparse.Namespace) -> int:
    """Write the dataset the arguments describe; 0 on success, 2 on bad fonts or text files."""
    fonts = args.fonts or ([Path(".fonts")] if Path(".fonts").is_dir() else None)
    if fonts is None:
        print("no fonts: run scripts/install_fonts.sh or pass --fonts DIR", file=sys.stderr)
        return 2
    try:
        faces = load_faces(fonts)
        texts = TextSource.from_files(args.texts) if args.texts else None
    except (OSError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    options = SynthOptions(
        long_side=args.long_side,
        paper=args.paper,
        languages=tuple(lang.strip() for lang in args.languages.split(",") if lang.strip()),
        label_printed=args.label_printed,
    )
    data_yaml = write_dataset(
        args.out,
        args.pages,
        args.seed,
        faces,
        texts,
        options,
        args.photo,
        args.val_fraction,
        args.workers,
        args.start,
        progress=not args.quiet,
    )
    manifest = json.loads((args.out / "manifest.json").read_text(encoding="utf-8"))
    print(f"{args.pages} pages, {manifest['lines']} lines, {len(faces)} fonts, {manifest['seconds']} s -> {data_yaml}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m handocr.datasets.synth OUT --pages N --seed S --fonts DIR [--photo]``."""
    parser = argparse.ArgumentParser(prog="python -m handocr.datasets.synth", description=__doc__.splitlines()[0])
    return run(add_arguments(parser).parse_args(argv))


def add_synth_command(sub: argparse._SubParsersAction) -> None:
    """Register ``handocr synth`` (the same arguments as ``python -m handocr.datasets.synth``)."""
    parser = sub.add_parser("synth", help="write synthetic handwritten pages: a YOLO dataset with line texts")
    add_arguments(parser).set_defaults(func=run)
