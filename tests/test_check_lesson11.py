"""Tests for dlcourse.check.lesson11: the solutions pass, realistic wrong answers fail with a hint."""

import pytest
import torch
import torch.nn.functional as F

from dlcourse.check import lesson11
from dlcourse.check._common import NOT_ANSWERED


def test_checks_are_exported_by_name():
    import dlcourse.check

    for name in lesson11.__all__:
        assert getattr(dlcourse.check, name) is getattr(lesson11, name)


def stub(*args):
    raise NotImplementedError


# ---------------------------------------------------------------- exercise 1: saliency
def my_saliency(model, X, target):
    X = X.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(X).gather(1, target[:, None]).sum(), X)
    return grad.abs()


def test_saliency_by_autograd():
    lesson11.saliency_by_autograd(my_saliency)
    with pytest.raises(AssertionError, match="whatever the direction"):
        lesson11.saliency_by_autograd(lambda m, X, t: my_saliency(m, X, t) * torch.sign(
            torch.autograd.grad(m(X.requires_grad_()).gather(1, t[:, None]).sum(), X)[0]))
    with pytest.raises(AssertionError, match="not the softmax"):
        lesson11.saliency_by_autograd(lambda m, X, t: torch.autograd.grad(
            m(X.requires_grad_()).softmax(1).gather(1, t[:, None]).sum(), X)[0].abs())
    with pytest.raises(AssertionError, match="must not mix"):  # every image's score for class 0
        lesson11.saliency_by_autograd(lambda m, X, t: torch.autograd.grad(
            m(X.requires_grad_())[:, t].sum(), X)[0].abs())
    with pytest.raises(AssertionError, match="shape"):
        lesson11.saliency_by_autograd(lambda m, X, t: my_saliency(m, X, t)[:, 0])
    with pytest.raises(AssertionError, match=NOT_ANSWERED):
        lesson11.saliency_by_autograd(stub)
    with pytest.raises(AssertionError, match=NOT_ANSWERED):
        lesson11.saliency_by_autograd(None)


# ---------------------------------------------------------------- exercise 2: the guided hook
def test_guided_relu_hook():
    lesson11.guided_relu_hook(lambda module, grad_in, grad_out: (grad_in[0].clamp(min=0),))
    lesson11.guided_relu_hook(lambda module, grad_in, grad_out: (F.relu(grad_in[0]),))
    with pytest.raises(AssertionError, match="ordinary gradient"):
        lesson11.guided_relu_hook(lambda module, grad_in, grad_out: None)
    with pytest.raises(AssertionError, match="deconvnet"):
        lesson11.guided_relu_hook(lambda module, grad_in, grad_out: (grad_out[0].clamp(min=0),))
    with pytest.raises(AssertionError, match="AND the gradient"):
        lesson11.guided_relu_hook(lambda module, grad_in, grad_out: (grad_in[0].abs(),))
    with pytest.raises(AssertionError, match=NOT_ANSWERED):
        lesson11.guided_relu_hook(stub)
    with pytest.raises(AssertionError, match=NOT_ANSWERED):
        lesson11.guided_relu_hook(None)


# ---------------------------------------------------------------- exercise 3: Grad-CAM
def my_grad_cam(A, grad):
    return torch.relu((grad.mean(dim=(1, 2), keepdim=True) * A).sum(0))


def test_grad_cam_from_maps():
    lesson11.grad_cam_from_maps(my_grad_cam)
    with pytest.raises(AssertionError, match="negative values"):
        lesson11.grad_cam_from_maps(lambda A, g: (g.mean(dim=(1, 2), keepdim=True) * A).sum(0))
    with pytest.raises(AssertionError, match="not a weight per pixel"):
        lesson11.grad_cam_from_maps(lambda A, g: torch.relu((g * A).sum(0)))
    with pytest.raises(AssertionError, match="size of the map"):
        lesson11.grad_cam_from_maps(lambda A, g: torch.relu((g.sum(dim=(1, 2), keepdim=True) * A).sum(0)))
    with pytest.raises(AssertionError, match="formula in the Grad-CAM section"):  # max instead of mean
        lesson11.grad_cam_from_maps(lambda A, g: torch.relu((g.amax(dim=(1, 2), keepdim=True) * A).sum(0)))
    with pytest.raises(AssertionError, match="shape"):
        lesson11.grad_cam_from_maps(lambda A, g: my_grad_cam(A, g)[None])
    with pytest.raises(AssertionError, match=NOT_ANSWERED):
        lesson11.grad_cam_from_maps(stub)


# ---------------------------------------------------------------- exercise 4: FGSM
def my_fgsm(model, X, y, epsilon):
    X = X.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(X), y), X)
    return (X + epsilon * grad.sign()).detach()


def test_fgsm_step():
    lesson11.fgsm_step(my_fgsm)
    lesson11.fgsm_step(lambda m, X, y, e: my_fgsm(m, X, y, e).clamp(-0.81, 2.03))  # clipping is fine
    with pytest.raises(AssertionError, match="other way"):
        lesson11.fgsm_step(lambda m, X, y, e: 2 * X - my_fgsm(m, X, y, e))
    with pytest.raises(AssertionError, match="only its direction"):
        def by_gradient(model, X, y, epsilon):
            X = X.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(F.cross_entropy(model(X), y), X)
            return X.detach() + epsilon * grad
        lesson11.fgsm_step(by_gradient)
    with pytest.raises(AssertionError, match="true labels y"):  # attacks the predicted class instead
        lesson11.fgsm_step(lambda m, X, y, e: my_fgsm(m, X, m(X).argmax(1), e))
    with pytest.raises(AssertionError, match=NOT_ANSWERED):
        lesson11.fgsm_step(stub)
