"""Tests for dlcourse.interpret: every attribution method against captum on random models and inputs,
plus shapes, teaching errors, and that no hook (or mode change, or in-place flag) is left behind."""

import copy
import warnings

import pytest
import torch
from torch import nn

from dlcourse import interpret

captum_attr = pytest.importorskip("captum.attr")

AGREEMENT: dict[str, float] = {}  # method -> largest |ours - captum| seen (printed with pytest -s)


def make_model(kind: str, seed: int = 0) -> nn.Module:
    """Small random CNNs: in-place ReLUs, BatchNorm with random statistics, nested Sequentials."""
    torch.manual_seed(seed)
    if kind == "plain":
        model = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
                              nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(), nn.Flatten(),
                              nn.Linear(8 * 6 * 6, 5))
    else:  # "bn": three input channels, BatchNorm, nested blocks like dlcourse's course_cnn
        model = nn.Sequential(
            nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.MaxPool2d(2)),
            nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True)),
            nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(8 * 6 * 6, 7)))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.data.uniform_(0.5, 1.5)
    return model.eval()


def captum_copy(model: nn.Module) -> nn.Module:
    """The same weights with out-of-place ReLUs (captum's backward hooks need them)."""
    twin = copy.deepcopy(model)
    for m in twin.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    return twin


def inputs(kind: str, batch: int = 4, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    channels, classes = (1, 5) if kind == "plain" else (3, 7)
    X = torch.randn(batch, channels, 12, 12)
    return X, torch.randint(0, classes, (batch,))


def last_relu(kind: str) -> str:
    return "4" if kind == "plain" else "1.2"


def agree(name: str, ours: torch.Tensor, theirs: torch.Tensor, atol: float = 1e-5) -> None:
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    diff = (ours - theirs).abs().max().item()
    AGREEMENT[name] = max(AGREEMENT.get(name, 0.0), diff)
    assert diff <= atol * max(1.0, theirs.abs().max().item()), f"{name}: max |diff| {diff:.3g}"


@pytest.fixture(autouse=True)
def _quiet_captum():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="captum")
        yield


KINDS = ["plain", "bn"]


@pytest.mark.parametrize("kind", KINDS)
def test_saliency_matches_captum(kind):
    model, (X, y) = make_model(kind), inputs(kind)
    ours = interpret.saliency(model, X, y)
    agree("Saliency", ours, captum_attr.Saliency(captum_copy(model)).attribute(X.clone(), target=y))
    signed = captum_attr.Saliency(captum_copy(model)).attribute(X.clone(), target=y, abs=False)
    agree("Saliency", interpret.gradient(model, X, y), signed)


@pytest.mark.parametrize("kind", KINDS)
def test_guided_backprop_and_deconvnet_match_captum(kind):
    model, (X, y) = make_model(kind), inputs(kind)
    twin = captum_copy(model)
    agree("GuidedBackprop", interpret.guided_backprop(model, X, y),
          captum_attr.GuidedBackprop(twin).attribute(X.clone(), target=y))
    agree("Deconvolution", interpret.deconvnet(model, X, y),
          captum_attr.Deconvolution(twin).attribute(X.clone(), target=y))


@pytest.mark.parametrize("kind", KINDS)
def test_grad_cam_and_guided_grad_cam_match_captum(kind):
    model, (X, y) = make_model(kind), inputs(kind)
    twin = captum_copy(model)
    name = last_relu(kind)
    layer = interpret.get_layer(twin, name)
    theirs = captum_attr.LayerGradCam(twin, layer).attribute(X.clone(), target=y, relu_attributions=True)
    agree("LayerGradCam", interpret.grad_cam(model, X, y, name, upsample=False), theirs)
    agree("LayerGradCam", interpret.grad_cam(model, X, y, name),
          captum_attr.LayerAttribution.interpolate(theirs, (12, 12)))
    agree("GuidedGradCam", interpret.guided_grad_cam(model, X, y, name),
          captum_attr.GuidedGradCam(twin, layer).attribute(X.clone(), target=y))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("window, stride", [(4, 2), (3, 3), (5, 1), (5, 3)])
def test_occlusion_matches_captum(kind, window, stride):
    model, (X, y) = make_model(kind), inputs(kind)
    c = X.shape[1]
    theirs = captum_attr.Occlusion(captum_copy(model)).attribute(
        X.clone(), sliding_window_shapes=(c, window, window), strides=(c, stride, stride),
        baselines=0.3, target=y)
    ours = interpret.occlusion(model, X, y, window=window, stride=stride, baseline=0.3)
    assert ours.shape == (len(X), 1, 12, 12)
    agree("Occlusion", ours.expand_as(theirs), theirs)


def test_occlusion_drops_are_score_differences():
    model, (X, y) = make_model("plain"), inputs("plain", batch=2)
    drops = interpret.occlusion_drops(model, X, y, window=4, stride=4, baseline=0.0)
    assert drops.shape == (2, 3, 3)
    hidden = X.clone()
    hidden[:, :, 4:8, 8:12] = 0.0
    with torch.no_grad():
        expected = model(X)[[0, 1], y] - model(hidden)[[0, 1], y]
    torch.testing.assert_close(drops[:, 1, 2], expected)


@pytest.mark.parametrize("kind", KINDS)
def test_integrated_gradients_match_captum(kind):
    model, (X, y) = make_model(kind), inputs(kind)
    theirs = captum_attr.IntegratedGradients(captum_copy(model)).attribute(
        X.clone(), target=y, n_steps=16, method="riemann_middle", baselines=0.2)
    agree("IntegratedGradients", interpret.integrated_gradients(model, X, y, baseline=0.2, steps=16),
          theirs)


def test_integrated_gradients_add_up_to_the_score_difference():
    model, (X, y) = make_model("bn"), inputs("bn", batch=2)
    attribution = interpret.integrated_gradients(model, X, y, steps=256)
    with torch.no_grad():
        gap = model(X)[[0, 1], y] - model(torch.zeros_like(X))[[0, 1], y]
    torch.testing.assert_close(attribution.sum(dim=(1, 2, 3)), gap, atol=0.02, rtol=0.02)


def test_captum_agreement_is_recorded():
    # runs last in this file: print the largest differences (pytest -s shows them)
    print("\nmax |ours - captum|:", {k: f"{v:.1e}" for k, v in AGREEMENT.items()})
    assert all(v < 1e-4 for v in AGREEMENT.values())


# ---------------------------------------------------------------- the ReLU rules, seen by trace_relu
@pytest.mark.parametrize("rule", interpret.RULES)
def test_trace_relu_shows_each_rule(rule):
    model, (X, y) = make_model("bn"), inputs("bn")
    t = interpret.trace_relu(model, X, "0.2", y, rule=rule)
    x, g, passed = t["relu_input"], t["incoming"], t["passed"]
    assert x.shape == g.shape == passed.shape == (4, 8, 12, 12)
    expected = {"backprop": g * (x > 0), "deconvnet": g.clamp(min=0),
                "guided": g.clamp(min=0) * (x > 0)}[rule]
    torch.testing.assert_close(passed, expected)


def test_guided_passes_exactly_where_input_and_gradient_are_positive():
    model, (X, y) = make_model("plain"), inputs("plain")
    t = interpret.trace_relu(model, X, "1", y, rule="guided")
    assert torch.equal(t["passed"] != 0, (t["relu_input"] > 0) & (t["incoming"] > 0))


# ---------------------------------------------------------------- targets, shapes, forward hooks
def test_target_none_means_the_predicted_class_and_an_int_is_broadcast():
    model, (X, _) = make_model("plain"), inputs("plain")
    with torch.no_grad():
        predicted = model(X).argmax(1)
    torch.testing.assert_close(interpret.saliency(model, X), interpret.saliency(model, X, predicted))
    torch.testing.assert_close(interpret.saliency(model, X, 3),
                               interpret.saliency(model, X, torch.full((4,), 3)))


def test_layer_outputs_match_a_manual_forward_pass():
    model, (X, _) = make_model("bn"), inputs("bn")
    outputs = interpret.layer_outputs(model, X)
    assert list(outputs) == ["0.0", "0.1", "0.2", "0.3", "1.0", "1.1", "1.2", "2.0", "2.1", "2.2"]
    with torch.no_grad():
        torch.testing.assert_close(outputs["0.3"], model[0](X))
        torch.testing.assert_close(outputs["2.2"], model(X))
    assert list(interpret.layer_outputs(model, X, layers=["1"])) == ["1"]


def test_explain_reduces_every_method_to_one_map_per_image():
    model, (X, y) = make_model("bn"), inputs("bn", batch=2)
    for method in interpret.METHODS:
        assert interpret.explain(model, X, y, method).shape == (2, 12, 12), method


def test_grad_cam_defaults_to_the_last_conv_block():
    assert interpret.last_conv_layer(make_model("plain")) == "4"
    assert interpret.last_conv_layer(make_model("bn")) == "1.2"
    from dlcourse.checkpoints import course_cnn

    assert interpret.last_conv_layer(course_cnn()) == "block2.5"
    model, (X, y) = make_model("bn"), inputs("bn", batch=2)
    torch.testing.assert_close(interpret.grad_cam(model, X, y), interpret.grad_cam(model, X, y, "1.2"))
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        interpret.last_conv_layer(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))


def test_map_correlation():
    a = torch.randn(3, 1, 5, 5)
    torch.testing.assert_close(interpret.map_correlation(a, 2 * a + 1), torch.ones(3))
    torch.testing.assert_close(interpret.map_correlation(a, -a), -torch.ones(3))


# ---------------------------------------------------------------- errors that teach
def test_bad_inputs_say_how_to_fix_them():
    model, (X, y) = make_model("plain"), inputs("plain")
    with pytest.raises(ValueError, match="batch axis"):
        interpret.saliency(model, X[0], y[:1])
    with pytest.raises(ValueError, match="normalized float"):
        interpret.saliency(model, (X * 50).to(torch.uint8), y)
    with pytest.raises(TypeError, match="torch.Tensor"):
        interpret.saliency(model, X.numpy(), y)
    with pytest.raises(ValueError, match="one per image"):
        interpret.saliency(model, X, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="0..4"):
        interpret.saliency(model, X, 5)
    with pytest.raises(KeyError, match="layers are"):
        interpret.grad_cam(model, X, y, "block2.5")
    with pytest.raises(ValueError, match="convolutional layer"):
        interpret.grad_cam(model, X, y, "6")
    with pytest.raises(ValueError, match="window"):
        interpret.occlusion(model, X, y, window=13)
    with pytest.raises(ValueError, match="not an nn.ReLU"):
        interpret.trace_relu(model, X, "0", y)
    with pytest.raises(ValueError, match="unknown method"):
        interpret.explain(model, X, y, "magic")
    with pytest.raises(ValueError, match="rule"):
        interpret.relu_backward_rule("guided_backprop")


def test_guided_backprop_refuses_a_model_without_relu_modules():
    class FunctionalReLU(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.fc = nn.Conv2d(1, 2, 3), nn.Linear(2 * 10 * 10, 3)

        def forward(self, x):
            return self.fc(torch.relu(self.conv(x)).flatten(1))

    with pytest.raises(ValueError, match="F.relu"):
        interpret.guided_backprop(FunctionalReLU().eval(), torch.randn(2, 1, 12, 12), 0)


# ---------------------------------------------------------------- nothing left behind
def hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               + len(m._backward_pre_hooks) for m in model.modules())


CALLS = {
    "layer_outputs": lambda m, X, y: interpret.layer_outputs(m, X),
    "saliency": lambda m, X, y: interpret.saliency(m, X, y),
    "guided_backprop": lambda m, X, y: interpret.guided_backprop(m, X, y),
    "deconvnet": lambda m, X, y: interpret.deconvnet(m, X, y),
    "grad_cam": lambda m, X, y: interpret.grad_cam(m, X, y, "1.2"),
    "guided_grad_cam": lambda m, X, y: interpret.guided_grad_cam(m, X, y, "1.2"),
    "occlusion": lambda m, X, y: interpret.occlusion(m, X, y, window=4),
    "integrated_gradients": lambda m, X, y: interpret.integrated_gradients(m, X, y, steps=4),
    "trace_relu": lambda m, X, y: interpret.trace_relu(m, X, "1.2", y),
}


@pytest.mark.parametrize("name", CALLS)
def test_methods_leave_the_model_as_they_found_it(name):
    model, (X, y) = make_model("bn"), inputs("bn")
    model.train()  # a student may call a method in train mode: it must come back in train mode
    before = copy.deepcopy(model.state_dict())
    CALLS[name](model, X, y)
    assert hook_count(model) == 0
    assert model.training and all(m.training for m in model.modules())
    assert model[1][2].inplace is True and model[0][2].inplace is False
    assert all(p.grad is None for p in model.parameters())
    after = model.state_dict()  # BatchNorm statistics too: the methods ran in eval mode
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_hooks_are_removed_even_when_a_method_fails_half_way():
    model, (X, _) = make_model("bn"), inputs("bn")
    with pytest.raises(ValueError, match="0..6"):
        interpret.guided_backprop(model, X, torch.tensor([0, 1, 2, 9]))
    with pytest.raises(ValueError, match="convolutional layer"):
        interpret.grad_cam(model, X, 0, "2.2")
    assert hook_count(model) == 0 and model[1][2].inplace is True


def test_inspecting_restores_mode_and_relus_after_an_error():
    model = make_model("plain").train()
    with pytest.raises(RuntimeError), interpret.inspecting(model) as handles:
        handles.append(model[0].register_forward_hook(lambda *args: None))
        assert not model.training and model[1].inplace is False
        raise RuntimeError("stop")
    assert model.training and model[1].inplace is True and hook_count(model) == 0
