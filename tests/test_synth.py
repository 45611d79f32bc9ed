"""The synthetic page generator: reproducible pages, boxes that hold the ink, a YOLO dataset with texts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from handocr.datasets.synth import (
    FontFace,
    SynthOptions,
    TextSource,
    generate_page,
    load_faces,
    load_synth_pages,
    write_dataset,
)
from handocr.datasets.synth.dataset import main
from handocr.datasets.yolo import YoloFolder

SMALL = 560  # page height in pixels: small pages keep the tests fast


def _test_font() -> Path | None:
    """DejaVu Sans from matplotlib or the system; ``None`` means Pillow's built-in face."""
    candidates = [Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")]
    try:
        import matplotlib

        candidates.insert(0, Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")
    except ImportError:
        pass
    return next((p for p in candidates if p.is_file()), None)


@pytest.fixture(scope="module")
def faces() -> list[FontFace]:
    font = _test_font()
    return load_faces([font] if font else None)


def _pixels(page) -> np.ndarray:
    return np.asarray(page.image)


def test_same_seed_gives_the_same_page(faces: list[FontFace]) -> None:
    options = SynthOptions(long_side=SMALL, bleed_through=1.0, header=1.0, stamp=1.0, margin_notes=1.0)
    first, again = generate_page(7, faces, options=options), generate_page(7, faces, options=options)
    assert first.lines and first.lines == again.lines
    assert np.array_equal(_pixels(first), _pixels(again))
    other = generate_page(8, faces, options=options)
    assert other.lines != first.lines


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_boxes_hold_the_ink_after_warping(faces: list[FontFace], seed: int) -> None:
    """On white paper with no noise, every dark pixel is handwriting: the boxes must hold (nearly)
    all of it, and each box must hold some, after rotation, perspective and bending."""
    options = SynthOptions.clean(long_side=SMALL, geometry=2.0, margin_notes=1.0, two_columns=0.5)
    page = generate_page(seed, faces, options=options)
    grey = np.asarray(page.image.convert("L"))
    dark, ink = grey < 128, grey < 200  # the paper is 250; pencil can be lighter than 128
    assert dark.sum() > 300 and page.lines
    covered = np.zeros_like(dark)
    for line in page.lines:
        x0, y0, x1, y1 = (int(np.floor(line.box[0])), int(np.floor(line.box[1])), *np.ceil(line.box[2:]).astype(int))
        assert ink[y0:y1, x0:x1].sum() > 0, f"empty box for {line.text!r}"
        covered[y0:y1, x0:x1] = True
    assert (dark & covered).sum() >= 0.98 * dark.sum()


@pytest.mark.parametrize("photo", [False, True])
def test_boxes_stay_inside_the_image(faces: list[FontFace], photo: bool) -> None:
    for seed in range(3):
        page = generate_page(seed, faces, options=SynthOptions(long_side=SMALL, photo_like=photo, geometry=2.0))
        width, height = page.image.size
        assert page.lines
        for line in page.lines:
            x0, y0, x1, y1 = line.box
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
            assert line.text.strip() and line.kind in {"hand", "margin"}
    if photo:
        assert page.image.size == (round(SMALL * 3 / 4), SMALL)


def test_printed_header_gets_boxes_only_when_asked(faces: list[FontFace]) -> None:
    for label_printed in (False, True):
        options = SynthOptions(long_side=SMALL, header=1.0, label_printed=label_printed)
        kinds = {line.kind for seed in range(3) for line in generate_page(seed, faces, options=options).lines}
        assert ("printed" in kinds) is label_printed


def test_texts_are_in_the_font_and_the_language() -> None:
    rng = np.random.default_rng(0)
    source = TextSource(use_faker=False)
    french = " ".join(source.sentence(rng, "fr") for _ in range(40))
    english = " ".join(source.sentence(rng, "en") for _ in range(40))
    assert any(c in french for c in "éèàêç") and " le " in french.lower() + " le "
    assert " the " in english.lower()
    again = TextSource(use_faker=False).sentence(np.random.default_rng(5), "fr")
    assert again == TextSource(use_faker=False).sentence(np.random.default_rng(5), "fr")
    own = TextSource.from_lines(["Une seule phrase ici."])
    assert own.sentence(rng, "en") == "Une seule phrase ici."
    face = FontFace(_test_font())
    face._cmap = {ord(c) for c in "abcdefghijklmnopqrstuvwxyz'"}
    face._covers = {}
    assert face.drawable("été d’œuvre") == "ete d'oeuvre"


def test_faker_text_source() -> None:
    pytest.importorskip("faker")
    source = TextSource(use_faker=True)
    a = [source.sentence(np.random.default_rng(3), "fr") for _ in range(2)]
    assert a[0] == a[1] and a[0]
    words = " ".join(source.built_sentence(np.random.default_rng(i), "fr") for i in range(30))
    assert any(c in words for c in "éèàêç")


def test_written_dataset_reads_back_with_texts(tmp_path: Path, faces: list[FontFace]) -> None:
    root = tmp_path / "synth"
    options = SynthOptions(long_side=SMALL)
    data_yaml = write_dataset(root, 3, seed=5, fonts=faces, options=options, val_fraction=0.34)
    assert f"path: {root.resolve()}" in data_yaml.read_text()
    assert len(list((root / "images" / "train").glob("*.jpg"))) == 2
    for labels in (root / "labels").rglob("*.txt"):
        rows = [row.split() for row in labels.read_text().splitlines()]
        texts = (root / "texts" / labels.parent.name / labels.name).read_text(encoding="utf-8").splitlines()
        assert rows and len(rows) == len(texts)
        for row in rows:
            assert row[0] == "0" and len(row) == 5 and all(0 <= float(v) <= 1 for v in row[1:])
    yolo_pages = list(YoloFolder(root).pages("train"))
    assert len(yolo_pages) == 2 and all(p.lines for p in yolo_pages)
    (val_page,) = load_synth_pages(root, "val")
    regenerated = generate_page(np.random.default_rng([5, 2]), faces, options=options)
    assert [line.text for line in val_page.lines] == [line.text for line in regenerated.lines]
    for line, expected in zip(val_page.lines, regenerated.lines, strict=True):
        assert np.allclose(line.box, expected.box, atol=0.01)


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    font = _test_font()
    if font is None:
        pytest.skip("no TrueType font on this machine")
    out = tmp_path / "photo"
    assert (
        main([str(out), "--pages", "2", "--seed", "1", "--fonts", str(font), "--long-side", "400", "--photo", "-q"])
        == 0
    )
    assert "2 pages" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "images").rglob("*.jpg")) == [
        "synthphoto_1_000000.jpg",
        "synthphoto_1_000001.jpg",
    ]
    assert main([str(tmp_path / "none"), "--fonts", str(tmp_path / "missing"), "-q"]) == 2


def test_yolo_reader_gives_texts_and_refuses_a_short_texts_file(tmp_path: Path) -> None:
    from handocr.errors import DatasetError

    root = tmp_path / "set"
    for sub in ("images", "labels", "texts"):
        (root / sub / "train").mkdir(parents=True)
    Image.new("RGB", (100, 50), "white").save(root / "images" / "train" / "p.png")
    (root / "labels" / "train" / "p.txt").write_text("0 0.5 0.3 0.8 0.2\n0 0.5 0.7 0.8 0.2\n")
    (root / "texts" / "train" / "p.txt").write_text("première ligne\nsecond line\n", encoding="utf-8")
    (page,) = YoloFolder(root).pages("train")
    assert [line.text for line in page.lines] == ["première ligne", "second line"]
    (root / "texts" / "train" / "p.txt").write_text("only one\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="1 texts for 2 label rows"):
        list(YoloFolder(root).pages("train"))
