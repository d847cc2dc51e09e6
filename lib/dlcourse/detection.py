"""Object detection from first principles: boxes and IoU, NMS, sliding windows, proposals, anchors.

Boxes are (N, 4) tensors in XYXY pixel edges, as `dlcourse.scenes` and torchvision use them: a box
(x1, y1, x2, y2) covers columns x1 .. x2 - 1, so x2 - x1 is its width in pixels.

    detection.box_iou(boxes1, boxes2)                  # (N, M) intersection over union
    keep = detection.nms(boxes, scores, 0.5)           # greedy non-maximum suppression
    keep = detection.batched_nms(boxes, scores, labels, 0.5)    # ... within each class
    detection.count_windows(96, sizes=(16, 32), aspect_ratios=(0.5, 1, 2), stride=4)
    proposals = detection.propose_regions(image)      # a selective-search stand-in for the scenes
    anchors = detection.make_anchors((12, 12), stride=8, sizes=(16, 32, 48))

Each function is tested against torchvision (`box_iou`, `nms`, `batched_nms`, `AnchorGenerator`)
in tests/test_detection.py.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import ndimage
from torchvision.ops import roi_align

# --- boxes, IoU and non-maximum suppression ----------------------------------------------------------


def as_boxes(boxes, name: str = "boxes") -> torch.Tensor:
    """`boxes` (tensor, list or tv_tensors.BoundingBoxes) as a plain (N, 4) XYXY tensor, or a clear error."""
    boxes = torch.as_tensor(boxes).as_subclass(torch.Tensor)  # plain tensor, also from BoundingBoxes
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} must be (N, 4) XYXY boxes, got shape {tuple(boxes.shape)}; "
                         "one box is boxes[None] or torch.tensor([[x1, y1, x2, y2]])")
    return boxes if boxes.is_floating_point() else boxes.float()


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """(N,) areas of (N, 4) XYXY boxes, in pixels."""
    boxes = as_boxes(boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """(N, M) intersection over union of every pair: area of overlap / area of the union.

    As torchvision computes it: two boxes of zero area give 0/0 = NaN, which no threshold exceeds.
    """
    boxes1, boxes2 = as_boxes(boxes1, "boxes1"), as_boxes(boxes2, "boxes2")
    top_left = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    bottom_right = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])  # (N, M, 2)
    wh = (bottom_right - top_left).clamp(min=0)  # no overlap -> width or height 0
    inter = wh[..., 0] * wh[..., 1]  # (N, M)
    union = box_area(boxes1)[:, None] + box_area(boxes2)[None, :] - inter
    return inter / union


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression: indices of the kept boxes, best score first.

    Take the best-scoring box left, keep it, discard every other box that overlaps it with IoU above
    `iou_threshold`, repeat. Equal scores keep their original order (a stable sort), as torchvision.
    """
    boxes = as_boxes(boxes)
    scores = torch.as_tensor(scores)
    if scores.shape != (len(boxes),):
        raise ValueError(f"scores must be (N,) for N={len(boxes)} boxes, got {tuple(scores.shape)}")
    order = torch.sort(scores, descending=True, stable=True).indices
    iou = box_iou(boxes[order], boxes[order]).detach().cpu().numpy()  # (N, N), in score order
    suppressed = np.zeros(len(order), bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold  # NaN (two empty boxes) is never above: both stay
    return order[torch.tensor(keep, dtype=torch.long, device=order.device)]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor,
                iou_threshold: float) -> torch.Tensor:
    """NMS within each class separately (a shirt never suppresses a shoe): kept indices, best score
    first (equal scores in index order)."""
    boxes, scores, labels = as_boxes(boxes), torch.as_tensor(scores), torch.as_tensor(labels)
    if labels.shape != (len(boxes),):
        raise ValueError(f"labels must be (N,) for N={len(boxes)} boxes, got {tuple(labels.shape)}")
    keep = [idx[nms(boxes[idx], scores[idx], iou_threshold)] for idx in
            (torch.nonzero(labels == c).flatten() for c in labels.unique())]
    keep = torch.cat(keep).sort().values if keep else torch.zeros(0, dtype=torch.long)
    return keep[torch.sort(scores[keep], descending=True, stable=True).indices]


# --- sliding windows -------------------------------------------------------------------------------


def window_shapes(sizes, aspect_ratios) -> list[tuple[int, int]]:
    """(width, height) of a window of area size**2 for each size and aspect ratio height / width."""
    return [(round(s / math.sqrt(r)), round(s * math.sqrt(r))) for s in sizes for r in aspect_ratios]


def count_windows(image_size, sizes, aspect_ratios=(1.0,), stride: int = 1) -> int:
    """How many windows a sliding-window detector classifies: for every window shape (w, h) that fits,
    (floor((W - w) / stride) + 1) * (floor((H - h) / stride) + 1) positions."""
    H, W = (image_size, image_size) if isinstance(image_size, int) else image_size
    if stride < 1:
        raise ValueError(f"stride must be >= 1 pixel, got {stride}")
    return sum(((W - w) // stride + 1) * ((H - h) // stride + 1)
               for w, h in window_shapes(sizes, aspect_ratios) if w <= W and h <= H)


def sliding_windows(image_size, sizes, aspect_ratios=(1.0,), stride: int = 1) -> torch.Tensor:
    """Every window `count_windows` counts, as (N, 4) XYXY boxes."""
    H, W = (image_size, image_size) if isinstance(image_size, int) else image_size
    out = []
    for w, h in window_shapes(sizes, aspect_ratios):
        if w > W or h > H:
            continue
        ys, xs = torch.meshgrid(torch.arange(0, H - h + 1, stride), torch.arange(0, W - w + 1, stride),
                                indexing="ij")
        xs, ys = xs.flatten().float(), ys.flatten().float()
        out.append(torch.stack([xs, ys, xs + w, ys + h], 1))
    return torch.cat(out) if out else torch.zeros(0, 4)


def warp_regions(image: torch.Tensor, boxes: torch.Tensor, size: int = 28) -> torch.Tensor:
    """R-CNN's warp: crop every box out of a (C, H, W) image and resize it to size x size (bilinear,
    one `roi_align` call): (N, C, size, size)."""
    boxes = as_boxes(boxes).to(image.dtype)
    rois = torch.cat([torch.zeros(len(boxes), 1, dtype=image.dtype), boxes], 1)  # (N, 5): image 0
    # aligned: pixel i covers [i, i + 1), as in our boxes; adaptive sampling: a box of the crop's own
    # size comes out unchanged
    return roi_align(torch.as_tensor(image)[None], rois, size, spatial_scale=1.0, sampling_ratio=-1,
                     aligned=True)


# --- region proposals: a selective-search stand-in --------------------------------------------------


def over_segment(image, levels: int = 4) -> np.ndarray:
    """The pieces proposals start from: 8-connected pixels of the same brightness level (`levels`
    equal bins of (0, 1]); (H, W) int array of piece ids 1, 2, ..., 0 = background."""
    image = torch.as_tensor(image).detach().cpu().float().squeeze().numpy()
    if image.ndim != 2:
        raise ValueError(f"image must be one grey-scale scene (1, H, W) or (H, W), got {image.shape}")
    if levels < 1:
        raise ValueError(f"levels must be >= 1 brightness bins, got {levels}")
    q = np.ceil(image * levels).astype(int)  # background (exactly 0) -> 0, articles -> 1..levels
    seg, n = np.zeros(image.shape, int), 0
    for v in range(1, levels + 1):
        lab, k = ndimage.label(q == v, structure=np.ones((3, 3)))  # 8-connected pieces
        seg[lab > 0] = lab[lab > 0] + n
        n += k
    return seg


def _neighbours(seg: np.ndarray) -> set[tuple[int, int]]:
    """Pairs (i < j) of regions that touch (8-neighbourhood)."""
    pairs = set()
    for a, b in ((seg[:, :-1], seg[:, 1:]), (seg[:-1], seg[1:]), (seg[:-1, :-1], seg[1:, 1:]),
                 (seg[:-1, 1:], seg[1:, :-1])):
        m = (a != b) & (a > 0) & (b > 0)
        pairs |= {(min(i, j), max(i, j)) for i, j in zip(a[m].tolist(), b[m].tolist())}
    return pairs


def propose_regions(image, levels: int = 4) -> torch.Tensor:
    """Region proposals for a scene, in the spirit of selective search (Uijlings et al. 2013).

    1. Over-segment: pieces of the image with the same brightness level (`levels` bins) that touch.
    2. Group greedily: merge the two most similar touching regions (small, similar brightness,
       filling their joint box well), again and again until each blob is one region.
    Every region met on the way, initial or merged, proposes its box: (N, 4) XYXY, duplicates removed.
    """
    seg = over_segment(image, levels)
    img = torch.as_tensor(image).detach().cpu().float().squeeze().numpy()
    ids = list(range(1, seg.max() + 1))
    if not ids:
        return torch.zeros(0, 4)
    size = dict(zip(ids, ndimage.sum_labels(np.ones_like(img), seg, ids).tolist()))
    total = dict(zip(ids, ndimage.sum_labels(img, seg, ids).tolist()))
    box = {i: (s[1].start, s[0].start, s[1].stop, s[0].stop)
           for i, s in enumerate(ndimage.find_objects(seg), 1)}
    touching = {i: set() for i in ids}
    for i, j in _neighbours(seg):
        touching[i].add(j)
        touching[j].add(i)
    foreground = max(float((img > 0).sum()), 1.0)

    def union(a, b):
        return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))

    def similarity(i, j):  # selective search's size + fill, with brightness for its colour term
        u = union(box[i], box[j])
        joint = size[i] + size[j]
        return (1 - joint / foreground) + joint / ((u[2] - u[0]) * (u[3] - u[1])) \
            + 1 - abs(total[i] / size[i] - total[j] / size[j])

    proposals = list(box.values())
    sims = {(i, j): similarity(i, j) for i in touching for j in touching[i] if i < j}
    new = len(ids) + 1
    while sims:
        i, j = max(sims, key=sims.get)
        box[new], size[new], total[new] = union(box[i], box[j]), size[i] + size[j], total[i] + total[j]
        touching[new] = (touching.pop(i) | touching.pop(j)) - {i, j}
        sims = {p: s for p, s in sims.items() if i not in p and j not in p}
        for k in touching[new]:
            touching[k] -= {i, j}
            touching[k].add(new)
            sims[(k, new)] = similarity(k, new)
        proposals.append(box[new])
        new += 1
    return torch.tensor(np.unique(np.array(proposals, np.float32), axis=0))


def proposal_recall(proposals: list[torch.Tensor], targets: list[dict], iou_threshold: float = 0.5) -> float:
    """The fraction of ground-truth boxes that some proposal of their image covers with
    IoU >= iou_threshold: the most any detector that classifies these proposals can find."""
    found = total = 0
    for p, t in zip(proposals, targets, strict=True):
        gt = as_boxes(t["boxes"])
        total += len(gt)
        if len(gt) and len(p):
            found += int((box_iou(gt, p).max(1).values >= iou_threshold).sum())
    if total == 0:
        raise ValueError("the targets hold no ground-truth box: recall is undefined")
    return found / total


# --- anchors ------------------------------------------------------------------------------------


def num_anchors(feature_size, sizes, aspect_ratios) -> int:
    """Anchors of a region proposal network: one per feature-map cell, size and aspect ratio."""
    H, W = (feature_size, feature_size) if isinstance(feature_size, int) else feature_size
    return H * W * len(sizes) * len(aspect_ratios)


def make_anchors(feature_size, stride: int, sizes, aspect_ratios=(0.5, 1.0, 2.0)) -> torch.Tensor:
    """All anchors, (H * W * A, 4) XYXY, in torchvision's order and rounding (AnchorGenerator).

    Cell (i, j) of the feature map anchors A = len(sizes) * len(aspect_ratios) boxes of area size**2
    and height / width = ratio, centred on pixel (j * stride, i * stride), the corner of the cell as
    torchvision places them; for each cell, ratios vary slowest.
    """
    H, W = (feature_size, feature_size) if isinstance(feature_size, int) else feature_size
    scales = torch.as_tensor(sizes, dtype=torch.float32)
    h_ratios = torch.sqrt(torch.as_tensor(aspect_ratios, dtype=torch.float32))
    ws = (1 / h_ratios[:, None] * scales[None, :]).flatten()  # (A,) widths, ratio-major
    hs = (h_ratios[:, None] * scales[None, :]).flatten()  # (A,) heights
    base = (torch.stack([-ws, -hs, ws, hs], 1) / 2).round()  # (A, 4) centred on (0, 0)
    ys, xs = torch.meshgrid(torch.arange(H) * stride, torch.arange(W) * stride, indexing="ij")
    shifts = torch.stack([xs, ys, xs, ys], -1).reshape(-1, 1, 4).float()  # (H * W, 1, 4)
    return (shifts + base[None]).reshape(-1, 4)
