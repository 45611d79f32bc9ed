"""Fuzz the upload decode path: random and mutated bytes into :func:`handocr.imageio.decode_pages`.

``decode_pages`` is what the service (``Engine.read_sync``), the CLI (``Reader.read``) and the batch
runner call on every input. The property checked for each input: it either decodes to pages within
the :class:`~handocr.imageio.Limits` (RGB, at most ``max_pixels`` pixels each, at most ``max_pages``
pages), or raises one of the typed errors of :mod:`handocr.errors`; never any other exception, and
never longer than the per-input time budget (a watchdog interrupts it at ``--hang-s``).

Seeds (small JPEG, PNG, TIFF, WebP, BMP and PDF pages) are made in memory with Pillow. Mutations:
bit flips, interesting byte values, truncation, chunk duplication and deletion, header swaps
between formats, splices, huge declared dimensions (PNG/JPEG/BMP/TIFF headers, PDF MediaBox) and
plain random bytes. A seeded mutator of our own (reproducible with ``--seed``; no extra dependency).

Run from the repository root:  .venv/bin/python -m bench.fuzz_decode --seconds 600
"""

from __future__ import annotations

import argparse
import base64
import io
import random
import re
import signal
import struct
import sys
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from handocr.errors import HandocrError
from handocr.imageio import Limits, decode_pages

LIMITS = Limits(max_bytes=2 * 1024 * 1024, max_pixels=4_000_000, max_pages=8)
HUGE = (0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF, 100_000, 1 << 20)


# -- seeds ---------------------------------------------------------------------------------------


def _page(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for y in range(6, size[1] - 4, 12):
        draw.line((4, y, size[0] - 6, y), fill="black", width=3)
    return image.convert(mode)


def _save(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def make_seeds() -> dict[str, bytes]:
    """Small valid inputs of every supported type, made in memory."""
    page = _page()
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate
    return {
        "png": _save(page, "PNG"),
        "png_rgba": _save(_page(mode="RGBA"), "PNG"),
        "png_i16": _save(_page(mode="L").convert("I;16"), "PNG"),
        "png_palette": _save(_page(mode="P"), "PNG"),
        "jpeg": _save(page, "JPEG", quality=80),
        "jpeg_exif": _save(page, "JPEG", exif=exif),
        "jpeg_progressive": _save(page, "JPEG", progressive=True),
        "tiff": _save(page, "TIFF"),
        "tiff_lzw_2pages": _save(page, "TIFF", compression="tiff_lzw", save_all=True, append_images=[page]),
        "webp": _save(page, "WEBP"),
        "bmp": _save(page, "BMP"),
        "pdf": _save(page, "PDF", resolution=72),
    }


# -- mutations -----------------------------------------------------------------------------------


def bit_flips(rng: random.Random, data: bytearray, seeds: list[bytes]) -> bytearray:
    for _ in range(rng.randint(1, 8)):
        if data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return data


def interesting_bytes(rng: random.Random, data: bytearray, seeds: list[bytes]) -> bytearray:
    values = (0x00, 0xFF, 0x7F, 0x80, 0x01)
    for _ in range(rng.randint(1, 4)):
        if data:
            data[rng.randrange(len(data))] = rng.choice(values)
    return data


def truncate(rng: random.Random, data: bytearray, seeds: list[bytes]) -> bytearray:
    return data[: rng.randrange(len(data) + 1)]


def duplicate_chunk(rng: random.Random, data: bytearray, seeds: list[bytes]) -> bytearray:
    if len(data) < 2:
        return data
    start = rng.randrange(len(data))
    end = min(len(data), start + rng.randint(1, 512))
    at = rng.randrange(len(data))
    return data[:at] + data[start:end] * rng.randint(1, 4) + data[at:]


def delete_chunk(rng: random.Random, data: bytearray, seeds: list[bytes]) -> bytearray:
    if len(data) < 2:
        return data
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.randint(1, 256) :]


def header_swap(rng: random.Random, data: bytearray, seeds: list[bytes]) -> bytearray:
    other = rng.choice(seeds)
    n = rng.randint(4, 64)
    return bytearray(other[:n]) + data[n:]


def splice(rng: random.Random, data: bytearray, seeds: list[bytes]) -> bytearray:
    other = rng.choice(seeds)
    return data[: rng.randrange(len(data) + 1)] + bytearray(other[rng.randrange(len(other) + 1) :])


def huge_dimensions(rng: random.Random, data: bytearray, seeds: list[bytes]) -> bytearray:
    """Declare a huge width and/or height in whichever header the bytes have."""
    w, h = rng.choice(HUGE), rng.choice(HUGE)
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 33:
        ihdr = bytearray(data[12:29])
        ihdr[4:12] = struct.pack(">II", w, h)
        data[12:29] = ihdr
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)  # a valid CRC
    elif data.startswith(b"\xff\xd8"):
        sof = max(data.find(b"\xff\xc0"), data.find(b"\xff\xc2"))
        if sof > 0 and sof + 9 <= len(data):
            data[sof + 5 : sof + 9] = struct.pack(">HH", h & 0xFFFF, w & 0xFFFF)
    elif data.startswith(b"BM") and len(data) >= 26:
        data[18:26] = struct.pack("<ii", w & 0x7FFFFFFF, -(h & 0x7FFFFFFF) if rng.random() < 0.5 else h & 0x7FFFFFFF)
    elif data.startswith(b"II*\0") and len(data) >= 8:
        (ifd,) = struct.unpack("<I", data[4:8])
        if ifd + 2 <= len(data):
            (count,) = struct.unpack("<H", data[ifd : ifd + 2])
            for i in range(count):
                entry = ifd + 2 + 12 * i
                if entry + 12 > len(data):
                    break
                (tag,) = struct.unpack("<H", data[entry : entry + 2])
                if tag in (256, 257):
                    value = w if tag == 256 else h
                    data[entry + 2 : entry + 12] = struct.pack("<HII", 4, 1, value)  # LONG
    elif data.startswith(b"%PDF"):
        box = f"/MediaBox [0 0 {w} {h}]".encode()
        data = bytearray(re.sub(rb"/MediaBox\s*\[[^\]]*\]", box, bytes(data)))
    return data


def random_bytes(rng: random.Random, data: bytearray, seeds: list[bytes]) -> bytearray:
    head = bytearray(rng.choice(seeds)[:8]) if rng.random() < 0.7 else bytearray()
    return head + bytearray(rng.randbytes(rng.randint(0, 2048)))


Mutator = Callable[[random.Random, bytearray, list[bytes]], bytearray]
MUTATORS: dict[str, Mutator] = {
    f.__name__: f
    for f in (
        bit_flips,
        interesting_bytes,
        truncate,
        duplicate_chunk,
        delete_chunk,
        header_swap,
        splice,
        huge_dimensions,
        random_bytes,
    )
}


def mutate(rng: random.Random, seed: bytes, seeds: list[bytes]) -> tuple[bytes, list[str]]:
    """``seed`` after one to three random mutations, and their names."""
    data, names = bytearray(seed), []
    for _ in range(rng.choice((1, 1, 2, 3))):
        name = rng.choice(list(MUTATORS))
        data = MUTATORS[name](rng, data, seeds)
        names.append(name)
    return bytes(data[: LIMITS.max_bytes + 1024]), names


# -- the property --------------------------------------------------------------------------------


class Hang(Exception):
    """An input took longer than the hard per-input budget."""


@contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread after ``seconds`` (SIGALRM; a no-op elsewhere)."""
    usable = hasattr(signal, "setitimer") and _in_main_thread()
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise Hang(f"over {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def check_one(data: bytes, limits: Limits = LIMITS, hang_s: float = 10.0) -> str:
    """Decode ``data``; return the outcome (``ok`` or the typed error's class name).

    Raises ``AssertionError`` if the pages break the limits, :class:`Hang` past ``hang_s``, and any
    exception that is not a :class:`~handocr.errors.HandocrError` as it is.
    """
    with watchdog(hang_s):
        try:
            pages = decode_pages(data, limits)
        except HandocrError as exc:
            return type(exc).__name__
    assert 1 <= len(pages) <= limits.max_pages, f"{len(pages)} pages"
    for page in pages:
        assert page.mode == "RGB", page.mode
        assert 1 <= page.width * page.height <= limits.max_pixels, page.size
    return "ok"


@dataclass
class FuzzReport:
    """What a run found."""

    iterations: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    mutations: Counter[str] = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)
    slow: list[dict[str, Any]] = field(default_factory=list)
    max_input_s: float = 0.0


def fuzz(
    iterations: int = 0, seconds: float = 0.0, seed: int = 0, budget_s: float = 2.0, hang_s: float = 10.0
) -> FuzzReport:
    """Run until ``iterations`` inputs (0: no count limit) or ``seconds`` (0: no time limit) are spent."""
    if not iterations and not seconds:
        raise ValueError("give iterations or seconds")
    rng = random.Random(seed)
    named = make_seeds()
    seeds = list(named.values())
    report = FuzzReport()
    start = time.perf_counter()
    while (not iterations or report.iterations < iterations) and (not seconds or time.perf_counter() - start < seconds):
        index = report.iterations
        if index < len(seeds):  # every seed once, unmutated: they must decode
            data, names = seeds[index], [f"seed:{list(named)[index]}"]
        else:
            data, names = mutate(rng, rng.choice(seeds), seeds)
        report.mutations.update(n.split(":")[0] for n in names)
        t0 = time.perf_counter()
        try:
            outcome = check_one(data, LIMITS, hang_s)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            outcome = "UNEXPECTED"
            report.failures.append(
                {
                    "iteration": index,
                    "mutations": names,
                    "error": f"{type(exc).__name__}: {exc}"[:500],
                    "traceback": traceback.format_exc(limit=6)[-2000:],
                    "input_b64": base64.b64encode(data[:65536]).decode(),
                }
            )
        elapsed = time.perf_counter() - t0
        report.max_input_s = max(report.max_input_s, elapsed)
        if elapsed > budget_s:
            report.slow.append({"iteration": index, "mutations": names, "seconds": round(elapsed, 3)})
        if index < len(seeds) and outcome != "ok":
            report.failures.append({"iteration": index, "mutations": names, "error": f"seed gave {outcome}"})
        report.outcomes[outcome] += 1
        report.iterations += 1
    report.seconds = time.perf_counter() - start
    return report


# -- command line --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from bench.common import machine_description, markdown_table, output_stem, report, write_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this long (default 60 if no count)")
    parser.add_argument("--iterations", type=int, default=0, help="stop after this many inputs")
    parser.add_argument("--seed", type=int, default=0, help="random seed (runs are reproducible)")
    parser.add_argument("--budget-s", type=float, default=2.0, help="per-input time budget; slower inputs fail")
    parser.add_argument("--hang-s", type=float, default=10.0, help="hard per-input limit (watchdog)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--tag", default="", help="suffix for the output file names")
    args = parser.parse_args(argv)
    seconds = args.seconds or (0.0 if args.iterations else 60.0)

    result = fuzz(args.iterations, seconds, args.seed, args.budget_s, args.hang_s)
    passed = not result.failures and not result.slow
    rate = result.iterations / result.seconds if result.seconds else 0.0
    rows = [[name, count] for name, count in result.outcomes.most_common()]
    markdown = (
        f"## fuzz_decode (seed {args.seed})\n\n"
        f"{result.iterations} inputs in {result.seconds:.1f} s ({rate:.0f}/s), slowest {result.max_input_s:.3f} s; "
        f"unexpected: {len(result.failures)}, over budget: {len(result.slow)} -> {'PASS' if passed else 'FAIL'}\n\n"
        + markdown_table(["outcome", "inputs"], rows)
        + "\n\n"
        + markdown_table(["mutation", "applied"], sorted(result.mutations.items()))
    )
    payload = {
        "benchmark": "fuzz_decode",
        "target": "handocr.imageio.decode_pages",
        "seed": args.seed,
        "limits": asdict(LIMITS),
        "iterations": result.iterations,
        "seconds": round(result.seconds, 3),
        "inputs_per_s": round(rate, 1),
        "max_input_s": round(result.max_input_s, 4),
        "budget_s": args.budget_s,
        "outcomes": dict(result.outcomes),
        "mutations": dict(result.mutations),
        "unexpected": result.failures,
        "over_budget": result.slow,
        "passed": passed,
        "machine": machine_description(),
    }
    files = write_results(output_stem(args.out, "fuzz_decode", args.tag), payload, markdown)
    report(markdown, files)
    for failure in result.failures[:5]:
        print(f"\nUNEXPECTED at iteration {failure['iteration']} ({failure['mutations']}): {failure['error']}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
