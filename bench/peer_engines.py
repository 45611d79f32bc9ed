"""The systems compared by ``bench.peers``: handocr, Tesseract 5 (CLI) and RapidOCR, behind one shape.

Each system has a ``name``, a ``config`` dict for the results, ``read_page(png_bytes, path)`` that
returns the page text (lines joined by newlines), and ``read_lines(crops)`` for recognition only
(``None`` when the system has no recognition-only mode). Timing and CPU accounting are done by
the caller, around these calls.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import reader_runtimes

DEFAULT_TESS_LANG = {"copiste": "fra", "hooker": "eng"}


class HandocrSystem:
    """handocr's pipeline (page mode) and its recognizer alone (line mode)."""

    def __init__(self, threads: int, recognizer: str | None = None, runtime: str | None = None) -> None:
        """The shipped models, or ``recognizer`` (a model name or folder; the system is then named
        ``handocr:RECOGNIZER``, to sit beside the default in one run), on ``runtime`` (``None``:
        ``HANDOCR_RUNTIME`` or ``auto``; a given one is added to the name as ``@RUNTIME``)."""
        from handocr.models import DEFAULT_RECOGNIZER
        from handocr.pipeline import Reader

        self.reader = Reader.load(recognizer=recognizer or DEFAULT_RECOGNIZER, threads=threads, runtime=runtime)
        self.name = ("handocr" if recognizer is None else f"handocr:{recognizer}") + (f"@{runtime}" if runtime else "")
        self.config = {
            "threads": threads,
            "models": self.reader.models.model_dump(),
            "runtimes": reader_runtimes(self.reader),
        }

    def read_page(self, data: bytes, path: Path, set_name: str) -> str:
        """Decode the bytes and read the page; the lines' texts in reading order, one per line."""
        document = self.reader.read(data)
        return "\n".join(line.text for line in document.pages[0].lines)

    def read_lines(self, gray_crops: list[np.ndarray], bgr_crops: list[np.ndarray]) -> list[str]:
        """Recognise grayscale line crops in one call."""
        return [line.text for line in self.reader.recognizer.recognize(gray_crops)]


class TesseractSystem:
    """The ``tesseract`` command, one process per page, ``OMP_THREAD_LIMIT=1``, language per set."""

    def __init__(self, psm: int, languages: dict[str, str], binary: str = "tesseract") -> None:
        found = shutil.which(binary)
        if found is None:
            raise RuntimeError("tesseract not found: apt-get install -y tesseract-ocr tesseract-ocr-fra")
        self.binary = found
        self.psm = psm
        self.languages = languages
        self.name = f"tesseract-psm{psm}"
        self.env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        self.config = {"binary": found, "version": tesseract_version(found), "psm": psm, "languages": languages}

    def language(self, set_name: str) -> str:
        """The ``-l`` value for a set (``eng`` when the set is not in the map)."""
        return self.languages.get(set_name, "eng")

    def read_page(self, data: bytes, path: Path, set_name: str) -> str:
        """Run ``tesseract PATH stdout -l LANG --psm N``; its non-empty output lines."""
        command = [self.binary, str(path), "stdout", "-l", self.language(set_name), "--psm", str(self.psm)]
        done = subprocess.run(command, capture_output=True, env=self.env, check=True, timeout=600)
        text = done.stdout.decode("utf-8", "replace").replace("\f", "")
        return "\n".join(line for line in text.splitlines() if line.strip())

    def read_lines(self, gray_crops: list[np.ndarray], bgr_crops: list[np.ndarray]) -> None:
        """Not compared in line mode (one process per crop would measure process start-up)."""
        return None


def tesseract_version(binary: str) -> str:
    """The first line of ``tesseract --version``."""
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    return (done.stdout or done.stderr).splitlines()[0].strip()


class RapidOcrSystem:
    """RapidOCR 3.x (PP-OCR ONNX models in the wheel): whole page, or its recognizer on crops."""

    def __init__(self, threads: int, use_cls: bool = False) -> None:
        from rapidocr import RapidOCR

        params: dict[str, Any] = {
            "Global.log_level": "warning",
            "Global.use_cls": use_cls,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        self.engine = RapidOCR(params=params)
        self.name = "rapidocr"
        from importlib.metadata import version

        self.config = {
            "version": version("rapidocr"),
            "threads": threads,
            "use_cls": use_cls,
            "det": f"{self.engine.cfg.Det.ocr_version.value} det {self.engine.cfg.Det.model_type.value}",
            "rec": f"{self.engine.cfg.Rec.ocr_version.value} rec {self.engine.cfg.Rec.model_type.value}",
        }

    def read_page(self, data: bytes, path: Path, set_name: str) -> str:
        """Detect and recognise the page from its bytes; the texts in RapidOCR's box order."""
        result = self.engine(data)
        return "\n".join(getattr(result, "txts", None) or ())

    def read_lines(self, gray_crops: list[np.ndarray], bgr_crops: list[np.ndarray]) -> list[str]:
        """Recognition only (``RapidOCR.recognize_txt``, batched by RapidOCR) on BGR crops."""
        return list(self.engine.recognize_txt(bgr_crops).txts)


def parse_languages(text: str) -> dict[str, str]:
    """``"copiste=fra,hooker=eng"`` -> a set-to-language map, over the defaults."""
    languages = dict(DEFAULT_TESS_LANG)
    for item in text.split(","):
        if item.strip():
            set_name, _, lang = item.partition("=")
            if not lang:
                raise ValueError(f"expected SET=LANG, got {item!r}")
            languages[set_name.strip()] = lang.strip()
    return languages
