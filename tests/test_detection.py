"""Tests for dlcourse.detection: IoU, NMS and anchors against torchvision; windows and proposals."""

import pytest
import torch
import torchvision
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList

from dlcourse import detection, scenes


def random_boxes(seed, n, size=64.0, degenerate=0):
    """n random XYXY boxes; the last `degenerate` of them have zero width or height."""
    gen = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=gen) * size
    wh = torch.rand(n, 2, generator=gen) * size / 2 + 1
    boxes = torch.cat([xy, xy + wh], 1)
    if degenerate:
        boxes[-degenerate:, 2] = boxes[-degenerate:, 0]  # zero width
        boxes[-degenerate // 2:, 3] = boxes[-degenerate // 2:, 1]  # and zero height
    return boxes


def test_box_iou_worked_example():
    a = torch.tensor([[0.0, 0, 4, 4]])
    b = torch.tensor([[2.0, 2, 6, 6], [4.0, 4, 8, 8], [0.0, 0, 4, 4]])
    # overlap 2x2 = 4 of union 16 + 16 - 4 = 28; touching corners; identical
    assert detection.box_iou(a, b).tolist() == [[pytest.approx(4 / 28), 0.0, 1.0]]


@pytest.mark.parametrize("seed", range(5))
def test_box_iou_matches_torchvision(seed):
    a, b = random_boxes(seed, 30, degenerate=4), random_boxes(seed + 100, 20, degenerate=2)
    ours, theirs = detection.box_iou(a, b), torchvision.ops.box_iou(a, b)
    assert ours.shape == (30, 20)
    torch.testing.assert_close(ours, theirs, equal_nan=True)


def test_box_area_and_bad_shapes():
    assert detection.box_area(torch.tensor([[1, 2, 4, 6]])).tolist() == [12.0]
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        detection.box_iou(torch.zeros(4), torch.zeros(1, 4))
    with pytest.raises(ValueError, match="scores must be"):
        detection.nms(torch.zeros(3, 4), torch.zeros(2), 0.5)
    with pytest.raises(ValueError, match="labels must be"):
        detection.batched_nms(torch.zeros(3, 4), torch.zeros(3), torch.zeros(2), 0.5)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7])
def test_nms_matches_torchvision_with_ties_and_degenerate_boxes(seed, threshold):
    boxes = random_boxes(seed, 200, degenerate=10)
    boxes[50:60] = boxes[40:50]  # exact duplicates
    gen = torch.Generator().manual_seed(seed)
    scores = (torch.rand(200, generator=gen) * 10).round() / 10  # many equal scores
    ours = detection.nms(boxes, scores, threshold)
    theirs = torchvision.ops.nms(boxes, scores, threshold)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("seed", range(6))
def test_batched_nms_matches_torchvision(seed):
    boxes = random_boxes(seed, 300, degenerate=6)
    gen = torch.Generator().manual_seed(seed)
    scores = (torch.rand(300, generator=gen) * 20).round() / 20
    labels = torch.randint(0, 5, (300,), generator=gen)
    ours = detection.batched_nms(boxes, scores, labels, 0.5)
    theirs = torchvision.ops.batched_nms(boxes, scores, labels, 0.5)
    assert torch.equal(ours, theirs)


def test_nms_keeps_everything_without_overlap_and_handles_empty_input():
    boxes = torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30], [40, 0, 50, 10]])
    assert detection.nms(boxes, torch.tensor([0.1, 0.9, 0.5]), 0.5).tolist() == [1, 2, 0]
    assert detection.nms(torch.zeros(0, 4), torch.zeros(0), 0.5).shape == (0,)
    assert detection.batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0), 0.5).shape == (0,)


def test_count_windows_is_the_number_of_windows():
    assert detection.count_windows(10, sizes=(4,), stride=2) == 4 * 4  # positions 0, 2, 4, 6
    assert detection.count_windows((10, 20), sizes=(4,), stride=1) == 7 * 17
    args = dict(image_size=(48, 64), sizes=(8, 16, 32), aspect_ratios=(0.5, 1, 2), stride=4)
    windows = detection.sliding_windows(**args)
    assert len(windows) == detection.count_windows(**args)
    assert windows[:, 2].max() <= 64 and windows[:, 3].max() <= 48 and windows.min() >= 0
    assert detection.window_shapes((16,), (0.5, 1, 2)) == [(23, 11), (16, 16), (11, 23)]
    with pytest.raises(ValueError, match="stride"):
        detection.count_windows(10, (4,), stride=0)


def test_warp_regions_resizes_each_box():
    image = torch.arange(64.0).reshape(1, 8, 8)
    crops = detection.warp_regions(image, torch.tensor([[0.0, 0, 8, 8], [2, 2, 4, 4]]), size=4)
    assert crops.shape == (2, 1, 4, 4)
    whole = torch.nn.functional.interpolate(image[None], size=4, mode="bilinear", antialias=False,
                                            align_corners=False)[0]
    assert crops[0, 0, 0, 0] < crops[0, 0, 3, 3]
    assert crops[0].mean() == pytest.approx(whole.mean().item(), abs=0.5)


def test_proposals_cover_the_articles():
    ds = scenes.FashionScenes("test", 40, seed=5)
    images, targets = zip(*(ds[i] for i in range(len(ds))))
    proposals = [detection.propose_regions(x) for x in images]
    assert all(p.ndim == 2 and p.shape[1] == 4 for p in proposals)
    recall = detection.proposal_recall(proposals, targets, 0.5)
    assert 0.8 < recall <= 1.0
    # more brightness levels: finer pieces, more proposals, higher recall
    fine = [detection.propose_regions(x, levels=8) for x in images]
    assert sum(map(len, fine)) > sum(map(len, proposals))
    assert detection.proposal_recall(fine, targets, 0.5) >= recall
    # an article alone on the canvas is proposed exactly
    image, target = scenes.FashionScenes("test", 50, max_objects=1, seed=1)[0]
    assert (detection.box_iou(target["boxes"], detection.propose_regions(image)) == 1).any()
    assert detection.propose_regions(torch.zeros(1, 16, 16)).shape == (0, 4)
    with pytest.raises(ValueError, match="grey-scale"):
        detection.propose_regions(torch.zeros(3, 16, 16))


@pytest.mark.parametrize("feature_size,stride,sizes,ratios", [
    ((12, 12), 8, (16, 32, 48), (0.5, 1.0, 2.0)),
    ((6, 9), 16, (32, 64), (1.0,)),
    ((4, 4), 4, (10, 20, 30), (0.25, 1.0, 3.0)),
])
def test_anchors_match_torchvision_anchor_generator(feature_size, stride, sizes, ratios):
    H, W = feature_size
    images = ImageList(torch.zeros(1, 1, H * stride, W * stride), [(H * stride, W * stride)])
    theirs = AnchorGenerator((sizes,), (ratios,))(images, [torch.zeros(1, 1, H, W)])[0]
    ours = detection.make_anchors(feature_size, stride, sizes, ratios)
    assert len(ours) == detection.num_anchors(feature_size, sizes, ratios) == H * W * len(sizes) * len(ratios)
    assert torch.equal(ours, theirs)


def test_proposal_recall_checks_its_inputs():
    t = [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0)}]
    with pytest.raises(ValueError, match="no ground-truth"):
        detection.proposal_recall([torch.zeros(0, 4)], t)
    with pytest.raises(ValueError):
        detection.proposal_recall([], t)


def test_over_segment_pieces():
    image = torch.zeros(1, 8, 8)
    image[0, 1:3, 1:3] = 0.2  # one dim square (level 1 of 4)
    image[0, 5:7, 1:7] = 0.9  # one bright bar (level 4)
    image[0, 5:7, 3] = 0.6  # splitting the bar's level: three pieces there
    seg = detection.over_segment(image, levels=4)
    assert seg.shape == (8, 8) and seg[0, 0] == 0 and (seg[image[0].numpy() == 0] == 0).all()
    assert sorted(set(seg.ravel().tolist())) == [0, 1, 2, 3, 4]
    assert len({seg[5, 1], seg[5, 3], seg[5, 6]}) == 3
    assert (detection.over_segment(image, levels=1) > 0).sum() == 4 + 12
    with pytest.raises(ValueError, match="levels"):
        detection.over_segment(image, levels=0)
