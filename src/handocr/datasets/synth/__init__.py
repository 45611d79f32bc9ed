"""Synthetic handwritten pages with line boxes and texts, for training the detector and the recognizer.

:func:`generate_page` draws one page (paper, handwriting in real fonts, header, stamp, bleed-through,
scan or photo geometry and degradations) and returns its image with a box and the text of every
handwritten line; :func:`write_dataset` writes many as a YOLO folder with the texts beside the labels,
and :func:`load_synth_pages` reads them back with their texts.
Command line: ``python -m handocr.datasets.synth OUT --pages N --seed S --fonts DIR [--photo]``.
See ``docs/synth.md``.
"""

from handocr.datasets.synth.dataset import load_synth_pages, write_dataset, yolo_rows
from handocr.datasets.synth.fonts import FontFace, load_faces
from handocr.datasets.synth.page import SynthLine, SynthOptions, SynthPage, generate_page
from handocr.datasets.synth.text import TextSource

__all__ = [
    "FontFace",
    "SynthLine",
    "SynthOptions",
    "SynthPage",
    "TextSource",
    "generate_page",
    "load_faces",
    "load_synth_pages",
    "write_dataset",
    "yolo_rows",
]
