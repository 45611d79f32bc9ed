import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handocr.detection.boxes import decode_yolo, iou_matrix, letterbox, move_sides, nms


def _random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    xy = rng.uniform(0, 500, size=(n, 2))
    wh = rng.uniform(5, 200, size=(n, 2))
    return np.concatenate([xy, xy + wh], axis=1).astype(np.float32)


def test_iou_of_known_boxes():
    a = np.array([[0, 0, 10, 10]], dtype=np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], dtype=np.float32)
    np.testing.assert_allclose(iou_matrix(a, b)[0], [1.0, 50 / 150, 0.0], rtol=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_nms_matches_torchvision(seed):
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    rng = np.random.default_rng(seed)
    boxes = _random_boxes(rng, 200)
    scores = rng.uniform(0, 1, 200).astype(np.float32)
    expected = ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.5).numpy()
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), expected)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.floats(min_value=0.1, max_value=0.9))
def test_nms_keeps_no_overlapping_pair(seed, threshold):
    rng = np.random.default_rng(seed)
    boxes = _random_boxes(rng, 40)
    scores = rng.uniform(0, 1, 40)
    keep = nms(boxes, scores, threshold)
    ious = iou_matrix(boxes[keep], boxes[keep])
    np.fill_diagonal(ious, 0)
    assert (ious <= threshold + 1e-9).all()
    assert scores[keep[0]] == scores.max()


def test_decode_yolo_reads_centre_size_and_merges_duplicates():
    # two candidates for one box (suppressed by NMS), one elsewhere, one under the threshold
    preds = np.array(
        [
            [100, 50, 80, 20, 0.9],
            [101, 51, 80, 20, 0.8],
            [300, 200, 100, 30, 0.7],
            [10, 10, 5, 5, 0.1],
        ],
        dtype=np.float32,
    )
    output = preds.T[None]  # (1, 5, N) like a one-class YOLOv8 export
    boxes, scores = decode_yolo(output, conf_threshold=0.25, iou_threshold=0.5)
    np.testing.assert_allclose(boxes, [[60, 40, 140, 60], [250, 185, 350, 215]])
    np.testing.assert_allclose(scores, [0.9, 0.7])


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=20, max_value=900), st.integers(min_value=20, max_value=900))
def test_letterbox_maps_boxes_back_to_the_image(width, height):
    image = np.zeros((height, width, 3), dtype=np.uint8)
    canvas, fit = letterbox(image, 256)
    assert canvas.shape == (256, 256, 3)
    corners = np.array([[0, 0, width, height]], dtype=np.float32)
    in_input = corners * fit.scale + np.array([fit.pad_x, fit.pad_y, fit.pad_x, fit.pad_y])
    np.testing.assert_allclose(fit.to_image(in_input, width, height), corners, atol=1e-3)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=20, max_value=900), st.integers(min_value=20, max_value=900))
def test_a_rectangular_letterbox_pads_only_to_the_stride_and_maps_boxes_back(width, height):
    image = np.zeros((height, width, 3), dtype=np.uint8)
    canvas, fit = letterbox(image, 256, stride=32)
    assert max(canvas.shape[:2]) == 256 and canvas.shape[0] % 32 == 0 and canvas.shape[1] % 32 == 0
    assert canvas.shape[0] - height * fit.scale < 32 and canvas.shape[1] - width * fit.scale < 32
    assert fit.scale == min(256 / height, 256 / width)  # the square's scale: the same boxes
    corners = np.array([[0, 0, width, height]], dtype=np.float32)
    in_input = corners * fit.scale + np.array([fit.pad_x, fit.pad_y, fit.pad_x, fit.pad_y])
    np.testing.assert_allclose(fit.to_image(in_input, width, height), corners, atol=1e-3)


def test_move_sides_moves_each_side_by_a_share_of_the_height():
    boxes = np.array([[100, 200, 500, 300], [0, 0, 50, 20]], dtype=np.float32)
    moved = move_sides(boxes, (0.1, 0.05, -0.2, 0.0))
    np.testing.assert_allclose(moved, [[110, 205, 520, 300], [2, 1, 54, 20]])
    assert move_sides(boxes, (0.0, 0.0, 0.0, 0.0)) is boxes


def test_a_detector_applies_its_box_adjust_from_model_json(tmp_path):
    import json
    import shutil

    from handocr.models import find_model, load_detector

    shipped = find_model("line-detector").folder
    folder = tmp_path / "det"
    shutil.copytree(shipped, folder, ignore=shutil.ignore_patterns("*.pt"))
    settings = json.loads((folder / "model.json").read_text())
    settings["box_adjust"] = {"top": 0.1, "bottom": 0.1}
    (folder / "model.json").write_text(json.dumps(settings))
    adjusted, plain = load_detector(folder, threads=1), load_detector(folder, threads=1)
    plain.box_adjust = (0.0, 0.0, 0.0, 0.0)
    assert adjusted.box_adjust == (0.0, 0.1, 0.0, 0.1)
    page = np.full((400, 600, 3), 240, np.uint8)
    for y in (60, 160, 260):
        page[y : y + 40, 40:560:7] = 20
    a = np.array([d.box for d in adjusted.detect(page)])
    b = np.array([d.box for d in plain.detect(page)])
    assert a.shape == b.shape and len(a)
    heights = b[:, 3] - b[:, 1]
    np.testing.assert_allclose(a[:, 1], b[:, 1] + 0.1 * heights, atol=0.05)
    np.testing.assert_allclose(a[:, [0, 2]], b[:, [0, 2]], atol=1e-3)
