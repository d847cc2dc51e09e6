import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from torchvision import tv_tensors  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from dlcourse import data, scenes  # noqa: E402
from dlcourse.viz.lint import figure_problems  # noqa: E402
from dlcourse.viz.scenes import plot_scene, plot_semantic  # noqa: E402

INTENSITY = torch.arange(10) * 20 + 60  # class c's article is a flat square of intensity 60 + 20c


@pytest.fixture(scope="module")
def train_images():
    return data.load_bundled_subset("train")


@pytest.fixture(scope="module")
def train_set(train_images):
    return scenes.FashionScenes(train_images, 60, seed=0)


@pytest.fixture(scope="module")
def squares():
    """Articles that are flat squares, one intensity per class: a pixel's value names its class."""
    X = INTENSITY.repeat(5)[:, None, None].expand(50, 28, 28).to(torch.uint8).contiguous()
    return data.ImageSet(X, torch.arange(10).repeat(5), source="squares")


def check_tight(boxes, masks):
    """Boxes equal torchvision's masks_to_boxes (last pixel) + 1 on x2, y2 (pixel edges)."""
    expected = torchvision.ops.masks_to_boxes(masks.bool()) + torch.tensor([0.0, 0, 1, 1])
    torch.testing.assert_close(boxes.as_subclass(torch.Tensor), expected)


def check_consistent(target):
    """Every labelled pixel belongs to exactly one instance of that label; background to none."""
    masks, labels, semantic = target["masks"].long(), target["labels"], target["semantic"]
    assert masks.sum(0).le(1).all(), "instance masks overlap"
    torch.testing.assert_close((masks * labels[:, None, None]).sum(0), semantic.as_subclass(torch.Tensor))


def test_types_shapes_and_ranges(train_set):
    image, target = train_set[3]
    assert type(image) is tv_tensors.Image and image.shape == (1, 96, 96) and image.dtype == torch.float32
    assert 0 <= image.min() and image.max() <= 1
    n = len(target["labels"])
    assert 1 <= n <= 5 and target["labels"].dtype == torch.int64
    assert target["labels"].min() >= 1 and target["labels"].max() <= 10
    assert type(target["boxes"]) is tv_tensors.BoundingBoxes and target["boxes"].shape == (n, 4)
    assert target["boxes"].format == tv_tensors.BoundingBoxFormat.XYXY
    assert tuple(target["boxes"].canvas_size) == (96, 96)
    assert type(target["masks"]) is tv_tensors.Mask and target["masks"].shape == (n, 96, 96)
    assert target["masks"].dtype == torch.uint8
    assert type(target["semantic"]) is tv_tensors.Mask and target["semantic"].shape == (96, 96)
    assert target["semantic"].dtype == torch.int64 and target["image_id"] == 3


def test_boxes_tight_masks_inside_and_consistent(train_set):
    counts = []
    for i in range(len(train_set)):
        image, target = train_set[i]
        check_tight(target["boxes"], target["masks"])
        check_consistent(target)
        boxes, area = target["boxes"], target["masks"].flatten(1).sum(1)
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= 96).all()
        assert (area[:-1] >= train_set.min_area).all() and area[-1] > 0  # the top is always kept
        # the image shows exactly the labelled pixels: dropped articles leave no trace
        assert torch.equal(image[0] > 0, target["semantic"] > 0)
        counts.append(len(boxes))
    assert set(counts) == {1, 2, 3, 4, 5}


def test_labels_match_the_source_articles_and_later_lie_on_top(squares):
    dataset = scenes.FashionScenes(squares, 40, seed=1, min_area=1)
    for i in range(len(dataset)):
        image, target = dataset[i]
        check_consistent(target)
        # each visible pixel has the intensity of its label's article
        expected = torch.cat([torch.zeros(1), INTENSITY / 255.0])[target["semantic"]]
        torch.testing.assert_close(image[0].as_subclass(torch.Tensor), expected.float())
        # squares are pasted whole: nothing earlier shows inside a later article's box
        masks, boxes = target["masks"], target["boxes"].long()
        for j in range(len(masks)):
            x1, y1, x2, y2 = boxes[j].tolist()
            assert masks[:j, y1:y2, x1:x2].sum() == 0
        x1, y1, x2, y2 = boxes[-1].tolist()  # the top square is whole
        assert masks[-1].sum() == (x2 - x1) * (y2 - y1) and x2 - x1 == y2 - y1


def test_same_seed_same_scenes_different_seed_different(train_images):
    a, b = (scenes.FashionScenes(train_images, 20, seed=5) for _ in range(2))
    c = scenes.FashionScenes(train_images, 20, seed=6)
    for i in range(20):
        (xa, ta), (xb, tb) = a[i], b[i]
        assert torch.equal(xa, xb) and all(torch.equal(torch.as_tensor(ta[k]), torch.as_tensor(tb[k]))
                                           for k in ta)
    assert not torch.equal(scenes.stack(a)[0], scenes.stack(c)[0])


def test_golden_scene(train_set):
    image, target = train_set[0]
    assert target["labels"].tolist() == [1, 4, 3]
    assert target["boxes"].tolist() == [[49, 43, 85, 86], [21, 2, 42, 45], [55, 23, 84, 64]]
    assert abs(image.sum().item() - 1066.66) < 0.01


def test_item_independent_of_access_order_and_process(train_images):
    dataset = scenes.FashionScenes(train_images, 16, seed=2)
    forward = [dataset[i] for i in range(16)]
    fresh = scenes.FashionScenes(train_images, 16, seed=2)
    for i in torch.randperm(16, generator=torch.Generator().manual_seed(0)).tolist() + [-3]:
        image, target = fresh[i]
        assert torch.equal(image, forward[i][0]) and torch.equal(target["masks"], forward[i][1]["masks"])
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, shuffle=True, num_workers=2,
                                         collate_fn=scenes.collate)
    for images, targets in loader:  # worker processes make the same scenes
        assert isinstance(images, list) and isinstance(targets, list) and len(images) == 4
        for image, target in zip(images, targets):
            i = target["image_id"]
            assert torch.equal(image, forward[i][0]) and torch.equal(target["boxes"], forward[i][1]["boxes"])


def test_train_and_test_scenes_use_their_own_images():
    train, test = scenes.FashionScenes("train", 4), scenes.FashionScenes("test", 4)
    assert len(train.images) == 10_000 and len(test.images) == 2_000  # fast mode: the bundled subset
    assert torch.equal(test.images.X, data.load_bundled_subset("test").X)
    assert not torch.equal(train[0][0], test[0][0])


def test_horizontal_flip_keeps_boxes_tight(train_images):
    plain = scenes.FashionScenes(train_images, 20, seed=3)
    flipped = scenes.FashionScenes(train_images, 20, seed=3, transforms=v2.RandomHorizontalFlip(p=1.0))
    for i in range(20):
        (image, target), (original, before) = flipped[i], plain[i]
        assert torch.equal(image, original.flip(-1))
        assert torch.equal(target["semantic"], before["semantic"].flip(-1))
        check_tight(target["boxes"], target["masks"])
        check_consistent(target)


@pytest.mark.parametrize("affine, tolerance", [
    (v2.RandomAffine(degrees=0, translate=(0.1, 0.1)), 0.0),
    (v2.RandomAffine(degrees=0, translate=(0.1, 0.1), scale=(0.8, 1.2)), 2.5),
])
def test_affine_moves_boxes_with_masks(train_images, affine, tolerance):
    dataset = scenes.FashionScenes(train_images, 40, seed=4, transforms=affine)
    torch.manual_seed(0)
    for i in range(40):
        image, target = dataset[i]
        check_consistent(target)
        seen = target["masks"].flatten(1).bool().any(1)
        boxes, tight = target["boxes"][seen], scenes.masks_to_boxes(target["masks"][seen])
        # boxes of articles pushed over the edge are only clamped: compare those left whole
        whole = (boxes[:, :2] > 0.5).all(1) & (boxes[:, 2:] < 95.5).all(1)
        assert (boxes[whole] - tight[whole]).abs().max().item() <= tolerance if whole.any() else True


def test_fit_boxes_after_rotation_and_crop(train_images):
    pipeline = v2.Compose([v2.RandomAffine(degrees=30), v2.RandomResizedCrop(96, scale=(0.3, 1)),
                           scenes.fit_boxes])
    dataset = scenes.FashionScenes(train_images, 30, seed=5, transforms=pipeline)
    torch.manual_seed(0)
    for i in range(30):
        image, target = dataset[i]
        assert type(target["boxes"]) is tv_tensors.BoundingBoxes and type(target["masks"]) is tv_tensors.Mask
        assert target["masks"].flatten(1).bool().any(1).all()  # instances cropped away are gone
        check_tight(target["boxes"], target["masks"])
        check_consistent(target)


@pytest.mark.parametrize("size, scale", [(64, (16, 32)), (128, (20, 48))])
def test_other_sizes(train_images, size, scale):
    image, target = scenes.FashionScenes(train_images, 3, size=size, scale=scale)[2]
    assert image.shape == (1, size, size) and target["semantic"].shape == (size, size)
    assert tuple(target["boxes"].canvas_size) == (size, size)
    check_tight(target["boxes"], target["masks"])


def test_stack_matches_items_and_default_statistics(train_images):
    dataset = scenes.FashionScenes(train_images, 1000, seed=0)
    X, semantic = scenes.stack(dataset)
    assert X.shape == (1000, 1, 96, 96) and X.dtype == torch.float32 and semantic.dtype == torch.int64
    for i in (0, 999):
        image, target = dataset[i]
        assert torch.equal(X[i], image) and torch.equal(semantic[i], target["semantic"])
    assert abs(X.mean().item() - scenes.MEAN) < 0.01 and abs(X.std().item() - scenes.STD) < 0.01
    assert semantic.max() == 10 and semantic.min() == 0


def test_full_set_if_installed():
    if not data.DEBIAN_DIR.is_dir():
        pytest.skip(f"the full Fashion-MNIST is not installed in {data.DEBIAN_DIR}")
    images = data.load_fashion_mnist("test", root=data.DEBIAN_DIR)
    image, target = scenes.FashionScenes(images, 5)[4]
    check_tight(target["boxes"], target["masks"])
    check_consistent(target)


def test_masks_to_boxes_against_torchvision():
    g = torch.Generator().manual_seed(0)
    masks = torch.rand(20, 30, 40, generator=g) > 0.97
    masks[3] = False
    boxes = scenes.masks_to_boxes(masks)
    nonempty = masks.flatten(1).any(1)
    check_tight(boxes[nonempty], masks[nonempty])
    assert boxes[3].tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize("out_size", [7, 20, 28, 48])
def test_resize_matches_interpolate(train_images, out_size):
    article = train_images.X[:4].float()
    R = torch.from_numpy(scenes._resize_matrix(out_size, 28))
    expected = F.interpolate(article[:, None], size=(out_size, out_size), mode="bilinear",
                             align_corners=False, antialias=False)[:, 0]
    torch.testing.assert_close(R @ article @ R.T, expected, atol=1e-3, rtol=1e-5)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(images="val"), TypeError, "'train', 'test'"),
    (dict(num_scenes=0), ValueError, "num_scenes must be a whole number >= 1"),
    (dict(size=32), ValueError, "e.g. scale="),
    (dict(scale=(30, 20)), ValueError, "smallest <= largest"),
    (dict(max_objects=0), ValueError, "max_objects"),
    (dict(seed=-1), ValueError, "seed must be a whole number >= 0"),
    (dict(min_area=0), ValueError, "min_area"),
    (dict(threshold=25), ValueError, r"threshold is an intensity in \(0, 1\)"),
    (dict(min_area=10_000), ValueError, "lower min_area"),
])
def test_bad_arguments_teach(train_images, kwargs, error, words):
    kwargs = {"images": train_images, **kwargs}
    with pytest.raises(error, match=words):
        scenes.FashionScenes(**kwargs)


def test_bad_inputs_teach(train_images):
    colour = data.ImageSet(torch.zeros(4, 3, 28, 28, dtype=torch.uint8), torch.zeros(4))
    with pytest.raises(ValueError, match="grayscale"):
        scenes.FashionScenes(colour)
    with pytest.raises(IndexError, match="out of range for 5 scenes"):
        scenes.FashionScenes(train_images, 5)[5]
    with pytest.raises(TypeError, match="needs a FashionScenes"):
        scenes.stack([1, 2])
    with pytest.raises(ValueError, match="pick one scene"):
        plot_semantic(torch.zeros(2, 8, 8))


def test_plots_draw_on_given_axes(train_set):
    image, target = train_set[1]
    fig, axes = plt.subplots(1, 3)
    assert plot_scene(image, target, ax=axes[0]) is axes[0]
    assert plot_semantic(target["semantic"], image, ax=axes[1]) is axes[1]
    n = len(target["labels"])
    prediction = {"boxes": target["boxes"], "labels": target["labels"],
                  "scores": torch.linspace(0.1, 0.9, n), "masks": target["masks"][:, None].float()}
    assert plot_scene(image, prediction, ax=axes[2], score_threshold=0.5) is axes[2]
    rectangles = [p for p in axes[2].patches if isinstance(p, Rectangle)]
    assert len(rectangles) == int((prediction["scores"] >= 0.5).sum())
    assert len([p for p in axes[0].patches if isinstance(p, Rectangle)]) == n
    legend = [t.get_text() for t in axes[1].get_legend().get_texts()]
    assert legend == [scenes.CLASSES[c] for c in target["semantic"].unique().tolist() if c > 0]
    assert figure_problems(fig) == []
    plt.close(fig)
    assert plot_scene(image).figure is not None  # makes its own Axes
    plt.close("all")
