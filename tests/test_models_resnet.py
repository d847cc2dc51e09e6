"""ResNet, DenseNet and the 28x28 mini models: torchvision as the oracle, shapes, paper numbers."""

import pytest
import torch
import torchvision.models as tvm
from torch import nn

from dlcourse.models import mini, resnet
from dlcourse.summary import summary


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_resnet_parameter_counts_equal_torchvision(depth):
    with torch.device("meta"):
        ours, theirs = resnet.resnet(depth), getattr(tvm, f"resnet{depth}")()
        shapes = [(k, v.shape) for k, v in ours.state_dict().items()]
        assert shapes == [(k, v.shape) for k, v in theirs.state_dict().items()]
        assert count(ours) == count(theirs)
        assert count(resnet.resnet(depth, variant="v1")) == count(theirs)


def test_resnet18_computes_the_same_function_as_torchvision():
    torch.manual_seed(0)
    ours, theirs = resnet.resnet18(num_classes=10).eval(), tvm.resnet18(num_classes=10).eval()
    ours.load_state_dict(theirs.state_dict())  # strict: same names, same shapes
    X = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(ours(X), theirs(X))


def test_densenet121_matches_torchvision_count_and_function():
    torch.manual_seed(0)
    ours, theirs = resnet.densenet121(num_classes=10).eval(), tvm.densenet121(num_classes=10).eval()
    assert count(ours) == count(theirs) == 7_978_856 - 1024 * 990 - 990  # 10 instead of 1000 out
    # different names, same parameters in the same order: copy them across by position
    pairs = list(zip(ours.state_dict().values(), theirs.state_dict().values(), strict=True))
    assert all(a.shape == b.shape for a, b in pairs)
    with torch.no_grad():
        for a, b in pairs:
            a.copy_(b)
    X = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(ours(X), theirs(X))


def test_resnet50_stage_shapes_at_224():
    with torch.device("meta"):
        model = resnet.resnet50()
    rows = summary(model, (3, 224, 224))
    shapes = [rows.row(f"layer{i}.0.conv3").output_shape[1:] for i in (1, 2, 3, 4)]
    assert shapes == [(256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)]


def test_bottleneck_and_basic_block_shapes():
    X = torch.randn(2, 64, 16, 16)
    assert resnet.BasicBlock(64, 128, stride=2)(X).shape == (2, 128, 8, 8)
    block = resnet.Bottleneck(64, 32, stride=2, stride_in_1x1=True)
    assert block(X).shape == (2, 128, 8, 8)
    assert block.conv1.stride == (2, 2) and block.conv2.stride == (1, 1)
    assert resnet.BasicBlock(64, 64).downsample is None  # identity shortcut when shapes agree


def test_dense_block_grows_by_growth_rate():
    block = resnet.DenseBlock(num_layers=3, in_channels=16, growth_rate=8)
    out = block(torch.randn(2, 16, 7, 7))
    assert out.shape == (2, 16 + 3 * 8, 7, 7) and block.out_channels == 40


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_resnet_v15_multiply_adds_equal_torchvision_published_ops(depth):
    # oracle: the GFLOPS torchvision publishes with its ImageNet weights (multiply-adds, in G)
    published = getattr(tvm, f"ResNet{depth}_Weights").IMAGENET1K_V1.meta["_ops"]
    with torch.device("meta"):
        ours = summary(resnet.resnet(depth), (3, 224, 224)).total_macs
        theirs = summary(getattr(tvm, f"resnet{depth}")(), (3, 224, 224)).total_macs
    assert ours == theirs
    assert round(ours / 1e9, 3) == published


# He et al. 2015, Table 1 ("FLOPs", which are multiply-adds), and our exact v1 counts
PAPER_GMACS = {18: (1.8, 1.814), 34: (3.6, 3.664), 50: (3.8, 3.858), 101: (7.6, 7.570),
               152: (11.3, 11.282)}


@pytest.mark.parametrize("depth", list(PAPER_GMACS))
def test_resnet_v1_multiply_adds_match_the_paper(depth):
    quoted, exact = PAPER_GMACS[depth]
    with torch.device("meta"):
        macs = summary(resnet.resnet(depth, variant="v1"), (3, 224, 224)).total_macs / 1e9
        v15 = summary(resnet.resnet(depth), (3, 224, 224)).total_macs / 1e9
    assert round(macs, 3) == exact
    assert abs(macs - quoted) < 0.07  # the paper rounds some down: 3.66 -> 3.6, 3.86 -> 3.8
    if depth >= 50:  # bottlenecks: v1.5 does the 3x3 of each subsampling block at full resolution
        assert v15 - macs == pytest.approx(0.2312, abs=1e-4)
    else:
        assert v15 == macs


def test_resnet_variants_place_the_stride():
    v1, v15 = resnet.resnet50(variant="v1"), resnet.resnet50()
    assert v1.variant == "v1" and v15.variant == "v1.5"
    first = {name: (m.layer2[0].conv1.stride, m.layer2[0].conv2.stride) for name, m in
             (("v1", v1), ("v1.5", v15))}
    assert first == {"v1": ((2, 2), (1, 1)), "v1.5": ((1, 1), (2, 2))}
    assert v1.layer2[1].conv1.stride == v15.layer2[1].conv1.stride == (1, 1)
    assert count(v1) == count(v15)
    X = torch.randn(1, 3, 64, 64)
    assert v1.eval()(X).shape == v15.eval()(X).shape == (1, 1000)


def test_resnet_rejects_unknown_variant():
    with pytest.raises(ValueError, match="'v1' .* or 'v1.5'"):
        resnet.resnet50(variant="v2")


def test_resnet_rejects_unknown_depth():
    with pytest.raises(ValueError, match=r"\[18, 34, 50, 101, 152\]"):
        resnet.resnet(20)


# ------------------------------------------------------------------------------------ mini models
# seeded golden values: (parameters, multiply-adds per 28x28 image)
MINI_GOLDEN = {
    "LeNet-5": (61_706, 416_520),
    "AlexNet": (139_466, 2_615_808),
    "ZFNet": (190_858, 2_368_768),
    "VGG": (82_370, 2_368_896),
    "GoogLeNet": (42_346, 2_838_416),
    "ResNet": (77_754, 2_636_672),
    "DenseNet": (25_498, 2_073_720),
}


@pytest.mark.parametrize("name", list(mini.MINI_MODELS))
def test_mini_models_shapes_and_sizes(name):
    model = mini.MINI_MODELS[name]()
    assert model.eval()(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    info = summary(model, (1, 28, 28))
    params, macs = MINI_GOLDEN[name]
    assert (info.total_params, info.total_macs) == (params, macs)
    assert 0.3e6 < info.total_macs < 6e6  # small enough to train on a CPU


@pytest.mark.parametrize("name", list(mini.MINI_MODELS))
def test_mini_models_learn_a_fixed_batch(name):
    torch.manual_seed(0)
    model = mini.MINI_MODELS[name]()
    for module in model.modules():  # dropout off: we test that gradients flow, not regularization
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    y = torch.arange(20) % 10
    X = torch.randn(10, 1, 28, 28)[y] + 0.5 * torch.randn(20, 1, 28, 28)  # noisy class templates
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = nn.functional.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], f"{name}: loss {losses[0]:.3f} -> {losses[-1]:.3f}"
