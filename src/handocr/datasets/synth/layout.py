"""What goes where on a synthetic page: the text's blocks (a letter, prose, notes), line wrapping,
columns, baselines, margin notes and the printed header."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from handocr.datasets.synth.fonts import FontFace
from handocr.datasets.synth.render import Canvas, HandStyle, Pen, render_line, render_printed
from handocr.datasets.synth.text import TextSource

_COMPANIES = {
    "fr": ["{last} & Cie", "Maison {last}", "Établissements {last}", "Société {last} et fils", "Mairie de {place}"],
    "en": ["{last} & Sons", "{last} Brothers Ltd.", "The {place} Company", "Royal Gardens, {place}", "{last} & Co."],
}
_ADDRESSES = {"fr": "{number}, rue {last}, {place}", "en": "{number} {last} Street, {place}"}
_PHONES = {"fr": "Tél. 0{hour} {number} {number}", "en": "Telephone {place} {number}"}


@dataclass
class Block:
    """A run of words written together: ``align`` is ``left`` or ``right``; ``indent`` in column widths."""

    words: list[str]
    align: str = "left"
    indent: float = 0.0
    gap_before: bool = False


@dataclass
class Writer:
    """One hand: a face at a size (px), with its habits and pen."""

    face: FontFace
    size: float
    style: HandStyle
    pen: Pen


@dataclass
class Label:
    """A labelled line before geometry: its text, kind (``hand``, ``margin``, ``printed``), x-height in px."""

    text: str
    kind: str
    x_height: float


@dataclass
class Body:
    """Where the body text goes: columns ``(x0, x1)``, candidate baselines and the lines written."""

    columns: list[tuple[float, float]]
    baselines: list[float]
    written: list[tuple[float, float]] = field(default_factory=list)  # (baseline y, x0) of each line


def blocks(rng: np.random.Generator, texts: TextSource, lang: str) -> tuple[str, Iterator[Block]]:
    """The page's genre (``letter``, ``prose`` or ``notes``) and its blocks in writing order."""
    genre = str(rng.choice(["letter", "prose", "notes"], p=[0.3, 0.5, 0.2]))

    def para(n_min: int, n_max: int, gap: float) -> Block:
        words = texts.paragraph(rng, lang, int(rng.integers(n_min, n_max + 1)))
        return Block(words, indent=float(rng.choice([0, 0, 0.05, 0.08])), gap_before=bool(rng.random() < gap))

    def letter() -> Iterator[Block]:
        yield Block(texts.snippet(rng, lang, "dateline").split(), align="right")
        yield Block(texts.snippet(rng, lang, "salutation").split(), indent=float(rng.uniform(0, 0.1)), gap_before=True)
        for _ in range(int(rng.integers(2, 6))):
            yield para(2, 5, 0.2)
        yield Block(texts.snippet(rng, lang, "closing").split(), indent=float(rng.uniform(0.1, 0.4)), gap_before=True)
        yield Block(texts.snippet(rng, lang, "signature").split(), align="right")

    def prose() -> Iterator[Block]:
        gap = rng.uniform(0, 0.4)
        while True:
            yield para(1, 4, gap)

    def notes() -> Iterator[Block]:
        marks = ["-", "•", "*", "{n}.", "{n})", ""]
        mark = marks[int(rng.integers(len(marks)))]
        n = 0
        while True:
            n += 1
            words = texts.sentence(rng, lang).split()
            head = mark.format(n=n)
            yield Block([head, *words] if head else words, gap_before=bool(rng.random() < 0.15))

    return genre, {"letter": letter, "prose": prose, "notes": notes}[genre]()


def write_body(
    target: Canvas, rng: np.random.Generator, writer: Writer, stream: Iterator[Block], body: Body, labels: list | None
) -> None:
    """Write ``stream``'s blocks line by line into ``body``'s columns; labelled when ``labels`` is a list."""
    font = writer.face.at(writer.size)
    space = font.getlength(" ")
    block: Block | None = None
    pending: list[str] = []
    first_of_block = True
    for x0, x1 in body.columns:
        for y in body.baselines:
            if not pending:
                block = next(stream, None)
                if block is None:
                    return
                pending, first_of_block = list(block.words), True
                if block.gap_before and body.written:
                    continue
            assert block is not None
            indent = block.indent * (x1 - x0) if first_of_block else 0.0
            slack = 1 + 0.3 * writer.style.spacing + writer.style.size_jitter  # words come out a little wider
            room = (x1 - x0 - indent) * rng.uniform(0.86, 1.0) / slack
            words: list[str] = []
            while pending and font.getlength(" ".join([*words, pending[0]])) <= room:
                words.append(pending.pop(0))
            if not words:  # a word wider than the column: left out
                pending.pop(0)
                continue
            text = writer.face.drawable(" ".join(words))
            if not text:
                continue
            width = font.getlength(text) + space
            x = x1 - width - rng.uniform(0, 0.04) * (x1 - x0) if block.align == "right" else x0 + indent
            x += rng.normal(0, 0.15 * writer.size)
            style = replace(writer.style, slope=writer.style.slope + float(rng.normal(0, 0.004)))
            alpha, dx, dy = render_line(text, writer.face, writer.size, style, writer.pen, rng)
            line_id = len(labels) + 1 if labels is not None and len(labels) < 254 else 0
            target.ink(alpha, round(x + dx), round(y + dy), writer.pen.colour, line_id)
            if line_id:
                labels.append(Label(text, "hand", writer.face.x_height * writer.size))  # type: ignore[union-attr]
            body.written.append((y, x))
            first_of_block = False


def body_layout(
    rng: np.random.Generator,
    width: int,
    height: int,
    top: float,
    pitch: float,
    ruled: list[float],
    margin_x: float | None,
    size: float,
    two_columns: bool,
) -> Body:
    """Columns and baselines below ``top``: on the ruling when there is one, else evenly spaced with
    a little drift; the page may stop early (a half-filled page)."""
    left = margin_x + rng.uniform(0.01, 0.03) * width if margin_x else rng.uniform(0.06, 0.16) * width
    right = width * (1 - rng.uniform(0.03, 0.09))
    columns = [(left, right)]
    if two_columns and right - left > 0.6 * width:
        gutter = rng.uniform(0.03, 0.06) * width
        mid = (left + right) / 2
        columns = [(left, mid - gutter / 2), (mid + gutter / 2, right)]
    bottom = height * (1 - rng.uniform(0.03, 0.08))
    if ruled:
        step = 2 if pitch < 1.2 * size and rng.random() < 0.5 else 1
        lines = [b - rng.uniform(0, 0.1) * pitch for b in ruled[::step] if b - size > top and b < bottom]
    else:
        lines, y = [], top + 1.1 * size
        while y < bottom:
            lines.append(float(y))
            y += pitch * (1 + rng.normal(0, 0.04))
    if rng.random() < 0.3:
        lines = lines[: max(2, int(len(lines) * rng.uniform(0.3, 0.9)))]
    return Body(columns, lines)


def margin_notes(
    target: Canvas,
    rng: np.random.Generator,
    writer: Writer,
    texts: TextSource,
    lang: str,
    body: Body,
    labels: list[Label],
) -> None:
    """One or two short handwritten notes in the left margin, beside written lines; labelled ``margin``."""
    room = body.columns[0][0] - 0.03 * target.size[0]
    if room < 3 * writer.size or not body.written:
        return
    size = writer.size * rng.uniform(0.65, 0.85)
    pen = Pen.random(rng) if rng.random() < 0.5 else writer.pen
    for _ in range(int(rng.integers(1, 3))):
        y, _ = body.written[int(rng.integers(len(body.written)))]
        text = writer.face.drawable(texts.snippet(rng, lang, "note"))
        if not text or writer.face.at(size).getlength(text) > room or len(labels) >= 254:
            continue
        style = replace(writer.style, slope=float(rng.normal(0, 0.04)))
        alpha, dx, dy = render_line(text, writer.face, size, style, pen, rng)
        x = 0.015 * target.size[0] + rng.uniform(0, room - writer.face.at(size).getlength(text))
        target.ink(alpha, round(x + dx), round(y + dy), pen.colour, len(labels) + 1)
        labels.append(Label(text, "margin", writer.face.x_height * size))


@dataclass
class PrintedLine:
    """A printed header line: text, face, size (px), left x and baseline y (px), colour."""

    text: str
    face: FontFace
    size: float
    x: float
    y: float
    colour: tuple[int, int, int]


def plan_header(
    rng: np.random.Generator, texts: TextSource, lang: str, faces: list[FontFace], width: int, height: int
) -> tuple[list[PrintedLine], float]:
    """A printed letterhead or notice paragraph at the top of the page, and the y where it ends."""
    colour = [(20, 20, 20), (25, 35, 90), (120, 25, 30)][int(rng.integers(3))]
    y = height * rng.uniform(0.025, 0.05)
    out: list[PrintedLine] = []
    if rng.random() < 0.6:  # letterhead: a name, an address, a telephone
        name = texts.fill(_COMPANIES[lang][int(rng.integers(len(_COMPANIES[lang])))], rng, lang)
        rows = [(name.upper() if rng.random() < 0.5 else name, rng.uniform(0.018, 0.026))]
        rows += [(texts.fill(_ADDRESSES[lang], rng, lang), rng.uniform(0.009, 0.012))]
        if rng.random() < 0.6:
            rows.append((texts.fill(_PHONES[lang], rng, lang), rng.uniform(0.009, 0.012)))
        align = rng.choice(["left", "centre", "right"])
        face = faces[int(rng.integers(len(faces)))]
        for text, rel in rows:
            size = rel * height
            text = face.drawable(text)
            length = face.at(size).getlength(text)
            x = {"left": 0.08 * width, "centre": (width - length) / 2, "right": 0.92 * width - length}[str(align)]
            y += 1.3 * size
            out.append(PrintedLine(text, face, size, float(x), float(y), colour))
    else:  # a printed notice across the page, like the consent paragraph of the Copiste forms
        face = faces[int(rng.integers(len(faces)))]
        size = height * rng.uniform(0.009, 0.012)
        font, words, row = face.at(size), texts.paragraph(rng, lang, 2), []
        while (words or row) and len(out) < 3:
            if row and (not words or font.getlength(" ".join([*row, words[0]])) > 0.86 * width):
                y += 1.35 * size
                out.append(PrintedLine(face.drawable(" ".join(row)), face, size, 0.07 * width, float(y), colour))
                row = []
            if words:
                row.append(words.pop(0))
    return out, y + height * rng.uniform(0.01, 0.03)


def draw_printed(target: Canvas, lines: list[PrintedLine], labels: list[Label], label: bool) -> None:
    """Print ``lines``; with ``label`` each one becomes a labelled line of kind ``printed``."""
    for line in lines:
        if not line.text:
            continue
        alpha, dx, dy = render_printed(line.text, line.face, line.size)
        line_id = len(labels) + 1 if label and len(labels) < 254 else 0
        target.ink(alpha * 0.95, round(line.x + dx), round(line.y + dy), line.colour, line_id)
        if line_id:
            labels.append(Label(line.text, "printed", line.face.x_height * line.size))
