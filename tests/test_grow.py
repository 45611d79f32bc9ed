"""Growing a trained crnn-v1 into crnn-wide: the wider network starts out reading exactly as the
trained one, and its new units learn."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

import torch

from conftest import run_training_cli
from handocr.models import find_model, load_recognizer
from handocr.runtime import model_metadata
from handocr.training.architectures import CRNN_V1_SHAPE, CRNN_WIDE_SHAPE
from handocr.training.crnn import CRNN
from handocr.training.finetune import resolve_init
from handocr.training.grow import can_grow, grow_state, grow_weights


def _trained_like_v1(num_classes: int = 12) -> CRNN:
    """A crnn-v1 with non-trivial batch-norm statistics (as a trained one has)."""
    torch.manual_seed(5)
    model = CRNN(num_classes)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def test_a_grown_network_reads_exactly_as_the_trained_one():
    old = _trained_like_v1()
    grown = CRNN(12, shape=CRNN_WIDE_SHAPE)
    grown.load_state_dict(grow_state(old.state_dict(), "crnn-v1", "crnn-wide", 12))
    grown.eval()
    images = torch.rand(3, 1, 32, 120)
    with torch.no_grad():
        expected, got = old(images), grown(images)
    assert got.shape == expected.shape == (3, 30, 12)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    assert sum(p.numel() for p in grown.parameters()) > 2 * sum(p.numel() for p in old.parameters())


def test_the_new_units_learn_from_the_first_step():
    old = _trained_like_v1()
    grown = CRNN(12, shape=CRNN_WIDE_SHAPE)
    grown.load_state_dict(grow_state(old.state_dict(), "crnn-v1", "crnn-wide", 12))
    old_channels = CRNN_V1_SHAPE.channels[1]
    zero_block = grown.features[4][0].weight[: CRNN_V1_SHAPE.channels[2], old_channels:]  # old outputs, new inputs
    assert zero_block.abs().sum() == 0
    grown.train()
    logits = grown(torch.rand(2, 1, 32, 80))
    loss = torch.log_softmax(logits, -1)[..., 3].mean()
    loss.backward()
    gradient = grown.features[4][0].weight.grad[: CRNN_V1_SHAPE.channels[2], old_channels:]
    assert gradient.abs().sum() > 0  # the zero weights from new channels into old ones move
    hidden = CRNN_V1_SHAPE.hidden
    assert grown.classifier.weight.grad[:, hidden : CRNN_WIDE_SHAPE.hidden].abs().sum() > 0


def test_a_crnn_grows_only_wider_and_ppocr_only_into_its_variants():
    assert can_grow("crnn-v1", "crnn-wide") and can_grow("crnn-v1", "crnn-v1")
    assert not can_grow("crnn-wide", "crnn-v1")
    assert not can_grow("ppocrv6-small", "crnn-wide") and not can_grow("crnn-v1", "ppocrv6-small")
    assert can_grow("ppocrv6-small", "ppocrv6-lite") and can_grow("ppocrv6-lite", "ppocrv6-small")
    with pytest.raises(ValueError, match="cannot grow"):
        grow_state(_trained_like_v1().state_dict(), "crnn-wide", "crnn-v1", 12)


def test_the_shipped_crnn_weights_grow_into_crnn_wide():
    init = resolve_init(str(find_model("line-recognizer-crnn").folder))
    assert init.architecture == "crnn-v1"
    grown = grow_weights(init, "crnn-wide")
    assert grown.architecture == "crnn-wide" and grown.charset == init.charset
    assert grown.width_scale == init.width_scale and "grown into crnn-wide" in grown.source
    assert grown.state["rnn.weight_hh_l0"].shape == (4 * CRNN_WIDE_SHAPE.hidden, CRNN_WIDE_SHAPE.hidden)


def test_the_command_line_grows_trains_and_installs_a_wide_model(two_page_set, tmp_path, capsys, monkeypatch):
    crnn = str(find_model("line-recognizer-crnn").folder)
    run = ["train", "recognizer", "--data", str(two_page_set), "--split", "all", "--max-steps", "1", "--batch", "4"]
    run += ["--holdout", "0.5", "--out", str(tmp_path / "run")]
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("HANDOCR_MODELS", str(models))
    grow = ["--from", crnn, "--arch", "crnn-wide", "--width-scale", "0.75", "--install", "wide"]
    assert run_training_cli([*run, *grow]) == 0
    card = (models / "wide" / "README.md").read_text()
    assert "grown into crnn-wide" in card
    recognizer = load_recognizer(models / "wide", threads=1)
    assert recognizer.width_scale == 0.75 and recognizer.height == 32 and recognizer.downsample == 4
    assert model_metadata(recognizer.session)["architecture"] == "crnn-wide"
    assert json.loads((models / "wide" / "model.json").read_text())["width_scale"] == 0.75
    (line,) = recognizer.recognize([torch.randint(0, 255, (40, 300), dtype=torch.uint8).numpy()])
    assert isinstance(line.text, str) and 0.0 <= line.confidence <= 1.0
    capsys.readouterr()
    default = str(find_model("line-recognizer").folder)
    assert run_training_cli([*run, "--from", default, "--arch", "crnn-wide"]) == 2
    assert "ppocrv6-small, which cannot grow into --arch crnn-wide" in capsys.readouterr().err


def test_the_command_line_starts_the_lite_variant_from_the_default_weights(two_page_set, tmp_path, monkeypatch):
    pytest.importorskip("onnx2torch")
    pytest.importorskip("rapidocr")
    default = str(find_model("line-recognizer").folder)
    run = ["train", "recognizer", "--data", str(two_page_set), "--split", "all", "--max-steps", "1", "--batch", "4"]
    run += ["--holdout", "0.5", "--lr", "1e-5", "--out", str(tmp_path / "run")]
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("HANDOCR_MODELS", str(models))
    assert run_training_cli([*run, "--from", default, "--arch", "ppocrv6-lite", "--install", "lite"]) == 0
    assert "grown into ppocrv6-lite" in (models / "lite" / "README.md").read_text()
    recognizer = load_recognizer(models / "lite", threads=1)
    assert (recognizer.height, recognizer.downsample) == (32, 4)
    assert model_metadata(recognizer.session)["architecture"] == "ppocrv6-lite"
    (line,) = recognizer.recognize([torch.randint(0, 255, (40, 300), dtype=torch.uint8).numpy()])
    assert isinstance(line.text, str) and 0.0 <= line.confidence <= 1.0
