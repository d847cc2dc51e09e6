"""Tests for dlcourse.dream: blur against torchvision, FGSM against a direct computation, the flipping
epsilon against a brute-force loop, and that class visualization and DeepDream do what they say."""

import copy

import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from torch import nn

from dlcourse import dream
from dlcourse.checkpoints import course_cnn


def model_and_data(seed: int = 0, n: int = 24):
    torch.manual_seed(seed)
    model = course_cnn(width=4).eval()
    X = torch.rand(n, 1, 28, 28) * (dream.BOUNDS[1] - dream.BOUNDS[0]) + dream.BOUNDS[0]
    return model, X, torch.randint(0, 10, (n,))


@pytest.mark.parametrize("sigma", [0.5, 1.0, 1.7])
def test_gaussian_blur_matches_torchvision(sigma):
    X = torch.randn(2, 3, 16, 20)
    size = 2 * max(1, int(torch.tensor(2 * sigma).ceil())) + 1
    expected = TF.gaussian_blur(X, [size, size], [sigma, sigma])
    torch.testing.assert_close(dream.gaussian_blur(X, sigma), expected, atol=1e-5, rtol=1e-5)


def test_fgsm_is_one_signed_step_clipped_to_real_pixels():
    model, X, y = model_and_data()
    Xg = X.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(Xg), y, reduction="sum"), Xg)
    expected = (X + 0.03 / dream.FASHION_STD * grad.sign()).clamp(*dream.BOUNDS)
    torch.testing.assert_close(dream.fgsm(model, X, y, 0.03), expected)
    assert dream.fgsm(model, X, y, 0.0).equal(X)
    with pytest.raises(ValueError, match="epsilon"):
        dream.fgsm(model, X, y, -0.1)


def test_accuracy_under_fgsm_equals_one_attack_per_epsilon():
    model, X, y = model_and_data(1)
    epsilons = [0.0, 0.01, 0.1]
    acc = dream.accuracy_under_fgsm(model, X, y, epsilons, batch_size=10)
    for e, epsilon in enumerate(epsilons):
        with torch.no_grad():
            expected = (model(dream.fgsm(model, X, y, epsilon)).argmax(1) == y).float().mean()
        assert acc[e].item() == pytest.approx(expected.item())


def test_smallest_flipping_epsilon_against_a_loop():
    model, X, y = model_and_data(2)
    grid = [0.01, 0.02, 0.05, 0.1, 0.3]
    first = dream.smallest_flipping_epsilon(model, X, y, grid, batch_size=7)
    with torch.no_grad():
        for n in range(len(X)):
            if model(X[n:n + 1]).argmax() != y[n]:
                assert first[n] == 0
                continue
            flips = [e for e in grid
                     if model(dream.fgsm(model, X[n:n + 1], y[n:n + 1], e)).argmax() != y[n]]
            assert first[n] == (flips[0] if flips else float("inf"))
    with pytest.raises(ValueError, match="sorted"):
        dream.smallest_flipping_epsilon(model, X, y, [0.1, 0.01])


def test_class_visualization_raises_each_target_score_and_is_seeded():
    model, _, _ = model_and_data(3)
    images, history = dream.class_visualization(model, [2, 7], steps=30, seed=0)
    assert images.shape == (2, 1, 28, 28) and len(history) == 31
    assert images.min() >= dream.BOUNDS[0] and images.max() <= dream.BOUNDS[1]
    first, last = history[0], history[-1]
    assert last[0, 2] > first[0, 2] and last[1, 7] > first[1, 7]
    again, _ = dream.class_visualization(model, [2, 7], steps=30, seed=0)
    assert torch.equal(images, again)
    with pytest.raises(ValueError, match="steps"):
        dream.class_visualization(model, [0], steps=0)


def test_deep_dream_amplifies_the_layer_and_leaves_the_model_alone():
    model, X, _ = model_and_data(4, n=2)
    model.train()
    before = copy.deepcopy(model.state_dict())
    dreamed, objective = dream.deep_dream(model, X, "block2.5", steps=10)
    assert dreamed.shape == X.shape and objective[-1] > objective[0]
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(len(m._forward_hooks) == 0 for m in model.modules())
    assert all(p.grad is None for p in model.parameters())


def test_adversarial_functions_keep_the_model_unchanged():
    model, X, y = model_and_data(5)
    relu = nn.ReLU(inplace=True)
    model.block1[2] = relu
    dream.accuracy_under_fgsm(model, X, y, [0.1])
    dream.smallest_flipping_epsilon(model, X, y, [0.1])
    assert relu.inplace and not model.training
    assert all(p.grad is None for p in model.parameters())
