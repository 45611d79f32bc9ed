"""Distillation: a student recognizer learns the teacher's per-frame posteriors beside its CTC loss."""

from __future__ import annotations

import pickle
import random
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("torch")

import torch

from conftest import SHARED_REAL, run_training_cli
from handocr.errors import HandocrError
from handocr.recognition.charset import Charset
from handocr.training.distill import check_geometry, class_map, distillation_loss, load_teacher, teacher_posteriors
from handocr.training.line_data import LineSample, augment_in_place, base_crop, elastic


def test_the_student_geometry_must_line_up_with_the_teacher():
    teacher = load_teacher("line-recognizer", threads=1)  # PP-OCRv6: 48 rows, 8 columns a frame
    assert teacher.crop_trim == 0.0  # training crops are read as cut
    check_geometry(teacher, height=32, downsample=4, width_scale=0.75)
    check_geometry(teacher, height=48, downsample=8, width_scale=1.0)
    with pytest.raises(HandocrError, match=r"--width-scale 0\.75"):
        check_geometry(teacher, height=32, downsample=4, width_scale=1.0)


def test_teacher_classes_are_reordered_to_the_student_charset():
    teacher_charset, student_charset = Charset("abc"), Charset("cbx")
    assert class_map(teacher_charset, student_charset).tolist() == [0, 3, 2, -1]
    scores = np.log(np.array([[0.7, 0.1, 0.15, 0.05], [0.1, 0.2, 0.3, 0.4]], dtype=np.float32))
    teacher = SimpleNamespace(charset=teacher_charset, log_probs=lambda crops: [scores for _ in crops])
    (mapped,) = teacher_posteriors(teacher, [np.zeros((4, 4), np.uint8)], student_charset)
    assert mapped.dtype == np.float16 and mapped.shape == (2, 4)
    np.testing.assert_allclose(mapped[:, :3], scores[:, [0, 3, 2]], atol=1e-2)  # blank, 'c', 'b'
    assert (mapped[:, 3] == -30).all()  # 'x': the teacher has no such character


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    return torch.log_softmax(torch.from_numpy(logits), dim=-1).numpy()


def test_the_distillation_loss_is_the_per_frame_kl_divergence():
    rng = np.random.default_rng(0)
    teacher = _log_softmax(rng.normal(size=(6, 5)).astype(np.float32))
    same = torch.from_numpy(teacher.copy())[None].requires_grad_()
    assert distillation_loss(same, torch.tensor([6]), [teacher.astype(np.float16)]).item() == pytest.approx(0, abs=1e-3)
    other = torch.from_numpy(_log_softmax(rng.normal(size=(1, 6, 5)).astype(np.float32))).requires_grad_()
    loss = distillation_loss(other, torch.tensor([6]), [teacher])
    p = np.exp(teacher)
    expected = (p * (teacher - other.detach().numpy()[0])).sum() / 6
    assert loss.item() == pytest.approx(expected, rel=1e-5) and loss.item() > 0
    loss.backward()
    assert other.grad is not None and other.grad.abs().sum() > 0


def test_lines_without_a_teacher_or_out_of_step_are_left_out():
    rng = np.random.default_rng(1)
    student = torch.from_numpy(_log_softmax(rng.normal(size=(3, 10, 4)).astype(np.float32)))
    teacher = _log_softmax(rng.normal(size=(10, 4)).astype(np.float32))
    frames = torch.tensor([10, 10, 10])
    one = distillation_loss(student[:1], frames[:1], [teacher])
    mixed = distillation_loss(student, frames, [teacher, None, teacher[:5]])  # a generated line; 5 frames off
    assert mixed.item() == pytest.approx(one.item())
    near = distillation_loss(student[:1], frames[:1], [teacher[:9]])  # one frame of rounding: compared over 9
    assert near is not None
    assert distillation_loss(student, frames, [None, None, teacher[:2]]) is None


def test_augmenting_in_place_moves_no_column():
    gray = np.full((64, 300), 230, np.uint8)
    gray[20:44, 40:260:9] = 30
    sample = LineSample(gray, "text", margin_px=8)
    rng = random.Random(3)
    for _ in range(20):
        assert augment_in_place(sample, rng).shape == base_crop(sample).shape


def test_an_elastic_distortion_bends_strokes_without_tearing_them():
    gray = np.full((64, 300), 230, np.uint8)
    gray[20:44, 40:260] = 30  # a thick bar of ink
    rng = random.Random(5)
    assert np.array_equal(elastic(gray, rng, shift=0.0), gray)  # no shift: the crop itself
    warped = elastic(gray, rng)
    assert warped.shape == gray.shape and warped.dtype == np.uint8
    assert not np.array_equal(warped, gray)
    ink, moved = (gray < 128).sum(), (warped < 128).sum()
    assert abs(int(moved) - int(ink)) < 0.15 * ink  # bent, not torn or smeared away
    assert (warped[:8] > 200).all() and (warped[-8:] > 200).all()  # paper stays paper a few pixels off


def _distilling_trainer(data: Path, out: Path, **settings):
    """A trainer on ``data`` that distils every batch from the shipped recognizer (a few steps, crnn-v1)."""
    from handocr.datasets import load_pages
    from handocr.training.recognizer import RecognizerTrainConfig, RecognizerTrainer

    config = RecognizerTrainConfig(
        out_dir=out,
        batch=4,
        holdout_fraction=0.5,
        width_scale=0.75,
        teacher="line-recognizer",
        distill_share=1.0,
        **settings,
    )
    return RecognizerTrainer(load_pages([data], None), config)


def test_a_distilled_run_caches_the_teacher_and_trains(two_page_set, tmp_path):
    trainer = _distilling_trainer(two_page_set, tmp_path / "run", max_steps=2)
    assert trainer.train().is_file() and trainer.step == 2
    (cache,) = (tmp_path / "run").glob("teacher-*.pkl")
    targets = pickle.loads(cache.read_bytes())
    assert len(targets) == len(trainer.train_samples)
    classes = trainer.charset.num_classes
    for sample, target in zip(trainer.train_samples, targets, strict=True):
        frames = trainer.to_input(base_crop(sample)).shape[1] // 4  # the student's own frames
        assert target.shape[1] == classes and abs(target.shape[0] - frames) <= 1
        assert np.allclose(np.exp(target.astype(np.float32)).sum(axis=1), 1.0, atol=0.02)


def test_the_command_line_refuses_a_student_out_of_step(two_page_set, tmp_path, capsys, monkeypatch):
    run = ["train", "recognizer", "--data", str(two_page_set), "--split", "all", "--max-steps", "1", "--batch", "4"]
    run += ["--holdout", "0.5", "--teacher", "line-recognizer", "--out", str(tmp_path / "run")]
    assert run_training_cli(run) == 2  # crnn-v1 at its full width reads 4 frames for the teacher's 3
    assert "--width-scale 0.75" in capsys.readouterr().err
    assert run_training_cli([*run, "--width-scale", "0.75", "--distill-share", "0"]) == 2
    no_teacher = [a for a in run if a not in ("--teacher", "line-recognizer")]
    assert run_training_cli([*no_teacher, "--teacher-online"]) == 2
    assert "--teacher-online needs --teacher" in capsys.readouterr().err
    assert run_training_cli([*run, "--teacher", "no-such-model", "--width-scale", "0.75"]) == 2
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("HANDOCR_MODELS", str(models))
    assert run_training_cli([*run, "--width-scale", "0.75", "--install", "student"]) == 0
    assert "| distilled from | line-recognizer |" in (models / "student" / "README.md").read_text()
    assert len(list((tmp_path / "run").glob("teacher-handocr-line-recognizer-*.pkl"))) == 1


def test_the_shipped_fast_recognizer_lines_up_with_its_teacher_and_reads():
    from handocr.models import load_recognizer

    fast = load_recognizer("line-recognizer-fast", threads=1)
    assert (fast.width_scale, fast.crop_trim, fast.decoder.method) == (0.75, 0.13, "beam")
    assert fast.languages == ("fr", "en") and fast.decoder.lm is not None and fast.decoder.lexicon is not None
    check_geometry(load_teacher("line-recognizer", threads=1), fast.height, fast.downsample, fast.width_scale)
    copiste = SHARED_REAL / "copiste"
    if not copiste.is_dir():
        pytest.skip("../shared/data/real is not beside the checkout")
    from PIL import Image

    from handocr.datasets import DatasetFolder
    from handocr.datasets.collection import recognition_lines
    from handocr.evaluation.text_metrics import cer
    from handocr.pipeline import crop_box

    page = next(iter(DatasetFolder(copiste).pages("val")))
    gray = np.asarray(Image.open(page.image_path).convert("L"))
    lines = recognition_lines(page)[:8]
    crops = [gray[y0:y1, x0:x1] for x0, y0, x1, y1 in (crop_box(line.box, 4, *gray.shape[::-1]) for line, _ in lines)]
    texts = [line.text for line in fast.recognize(crops)]
    assert cer([target for _, target in lines], texts) < 0.45  # 24% over all of val; chance is near 100%


def test_an_online_teacher_reads_the_augmented_batches_the_student_sees(two_page_set, tmp_path):
    trainer = _distilling_trainer(two_page_set, tmp_path / "run", max_steps=3, teacher_online=True)
    batches: list[list[np.ndarray]] = []
    log_probs = trainer.teacher.log_probs
    trainer.teacher.log_probs = lambda crops: batches.append(list(crops)) or log_probs(crops)
    assert trainer.train().is_file() and trainer.step == 3
    assert not list((tmp_path / "run").glob("teacher-*.pkl"))  # nothing cached: every batch read afresh
    assert len(batches) == 3 and all(1 <= len(b) <= 4 for b in batches)  # one teacher call a step
    read = [crop for batch in batches for crop in batch]
    base_shapes = {base_crop(s).shape for s in trainer.train_samples}
    assert any(crop.shape not in base_shapes for crop in read)  # margins, slant and width moved


def test_a_training_step_adds_the_distillation_term_to_the_ctc_loss_and_steps():
    from handocr.training.architectures import get_architecture
    from handocr.training.recognizer import ctc_step, ctc_tensors

    charset = Charset()
    arch = get_architecture("crnn-v1")
    rng = np.random.default_rng(2)
    arrays = [rng.random((arch.line_height, width)).astype(np.float32) for width in (64, 96)]
    batch = ctc_tensors(arrays, ["ab", "cde"], charset, arch.downsample)
    assert batch[1].tolist() == [64 // arch.downsample, 96 // arch.downsample]  # each line its own frames

    def step(targets, weight=1.0):
        torch.manual_seed(0)
        model = arch.build(charset)
        model.eval()  # no dropout: the two steps see the same function
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        before = [p.detach().clone() for p in model.parameters()]
        loss, distill = ctc_step(
            model, optimizer, torch.nn.CTCLoss(blank=0, zero_infinity=True), batch, "cpu", targets, weight
        )
        moved = any(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
        return loss.item(), distill, moved

    plain, no_term, moved = step(None)
    assert no_term is None and moved
    frames = int(batch[1][0])
    teacher = _log_softmax(rng.normal(size=(frames, charset.num_classes)).astype(np.float32))
    total, term, moved = step([teacher, None], weight=0.5)
    assert term is not None and term.item() > 0 and moved
    assert total == pytest.approx(plain + 0.5 * term.item(), rel=1e-5)
