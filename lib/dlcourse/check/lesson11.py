"""Exercise checks for lesson 11 (seeing what a CNN learned).

Each check runs the student's function on a small random CNN and random images, compares it with
`dlcourse.interpret` / `dlcourse.dream`, and passes quietly or raises AssertionError with a hint
(never the answer). An untouched stub says "not answered yet" (check._common).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from dlcourse import interpret
from dlcourse.check._common import answered, call, require

__all__ = ["saliency_by_autograd", "guided_relu_hook", "grad_cam_from_maps", "fgsm_step"]


def _small_cnn(seed: int = 0) -> nn.Module:
    """A random CNN with BatchNorm, ReLUs and max pooling, in eval mode (10 classes, 12x12 input)."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    return model.eval()


def _tensor(value: object, shape: tuple, name: str) -> torch.Tensor:
    require(isinstance(value, torch.Tensor), f"{name} should return a torch.Tensor, got "
            f"{type(value).__name__}")
    require(tuple(value.shape) == shape, f"{name} should return shape {shape} (one value per input "
            f"value), got {tuple(value.shape)}")
    return value.detach().float()


def saliency_by_autograd(fn: Callable) -> None:
    """Check `fn(model, X, target)`: |dS_c/dX| for a (B,) tensor of classes, without the library."""
    model, X = _small_cnn(1), torch.randn(4, 1, 12, 12)
    target = torch.tensor([0, 3, 5, 9])
    got = _tensor(call(fn, model, X.clone(), target.clone(), name="my_saliency"), tuple(X.shape),
                  "my_saliency")
    expected = interpret.saliency(model, X, target)
    if torch.allclose(got, expected, atol=1e-5):
        return
    signed = interpret.gradient(model, X, target)
    require(not torch.allclose(got, signed, atol=1e-5),
            "these are the signed gradients; a saliency map shows how strongly each pixel matters, "
            "whatever the direction")
    Xg = X.clone().requires_grad_(True)
    probs = model(Xg).softmax(1).gather(1, target[:, None]).sum()
    require(not torch.allclose(got, torch.autograd.grad(probs, Xg)[0].abs(), atol=1e-5),
            "differentiate the class score S_c (the logit), not the softmax probability: a "
            "probability can also rise because the other classes' scores fall")
    require(False, "for each image i, differentiate the score of class target[i] (one logit per "
            "image) with respect to the input pixels; gradients of different images must not mix")


def guided_relu_hook(hook: Callable) -> None:
    """Check a full backward hook for nn.ReLU that implements guided backpropagation."""
    require(callable(answered(hook, "guided_relu_hook")),
            f"guided_relu_hook should be a function, got {type(hook).__name__}")
    model, X = _small_cnn(2), torch.randn(3, 1, 12, 12)
    target = torch.tensor([1, 4, 7])
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    Xg = X.clone().requires_grad_(True)
    handles = [relu.register_full_backward_hook(hook) for relu in relus]
    try:
        score = model(Xg).gather(1, target[:, None]).sum()
        (got,) = torch.autograd.grad(score, Xg)
    except NotImplementedError:
        raise AssertionError("guided_relu_hook is not answered yet: write your answer in the cell "
                             "above, run it, then run this check again") from None
    finally:
        for handle in handles:
            handle.remove()
    expected = interpret.guided_backprop(model, X, target)
    if torch.allclose(got, expected, atol=1e-5):
        return
    require(not torch.allclose(got, interpret.gradient(model, X, target), atol=1e-5),
            "your hook left the ordinary gradient unchanged: return a one-element tuple holding the "
            "gradient the ReLU should pass back to its input")
    require(not torch.allclose(got, interpret.deconvnet(model, X, target), atol=1e-5),
            "that is the deconvnet rule: it forgets which of the ReLU's inputs were negative in the "
            "forward pass; guided backprop also needs that mask")
    require(False, "guided backprop passes a gradient back only where the ReLU's input was positive "
            "AND the gradient arriving from above is positive; look at what grad_input and "
            "grad_output hold")


def grad_cam_from_maps(fn: Callable) -> None:
    """Check `fn(A, grad)`: the Grad-CAM map (h, w) from one image's maps A and dS_c/dA, both (K, h, w)."""
    torch.manual_seed(3)
    A, grad = torch.rand(8, 5, 6), torch.randn(8, 5, 6)
    got = _tensor(call(fn, A.clone(), grad.clone(), name="my_grad_cam"), (5, 6), "my_grad_cam")
    alpha = grad.mean(dim=(1, 2), keepdim=True)
    expected = F.relu((alpha * A).sum(0))
    if torch.allclose(got, expected, atol=1e-5):
        return
    require(not torch.allclose(got, (alpha * A).sum(0), atol=1e-5),
            "Grad-CAM keeps only the evidence *for* the class: negative values should become 0")
    require(not torch.allclose(got, F.relu((grad * A).sum(0)), atol=1e-5),
            "each map k gets one weight alpha_k for the whole map, summarising its gradient over "
            "all positions, not a weight per pixel")
    require(not torch.allclose(got, F.relu((grad.sum(dim=(1, 2), keepdim=True) * A).sum(0)),
                               atol=1e-5),
            "close: the weight alpha_k should not grow with the size of the map")
    require(False, "each map A_k gets one weight alpha_k that summarises dS_c/dA_k over all its "
            "positions; compare your summary with the formula in the Grad-CAM section")


def fgsm_step(fn: Callable) -> None:
    """Check `fn(model, X, y, epsilon)`: one FGSM step X + epsilon * sign(dLoss/dX), no clipping."""
    model = _small_cnn(4)
    torch.manual_seed(4)
    X, y = torch.rand(6, 1, 12, 12) + 0.2, torch.randint(0, 10, (6,))
    epsilon = 0.05
    got = _tensor(call(fn, model, X.clone(), y.clone(), epsilon, name="my_fgsm"), tuple(X.shape),
                  "my_fgsm")
    Xg = X.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(Xg), y, reduction="sum"), Xg)
    if torch.allclose(got, X + epsilon * grad.sign(), atol=1e-6):
        return
    require(not torch.allclose(got, X - epsilon * grad.sign(), atol=1e-6),
            "your step lowers the loss (it makes the network more sure it is right); the attack "
            "goes the other way")
    step = (got - X).abs()
    moved = step[step > 1e-9]
    require(len(moved) > 0 and torch.allclose(moved, torch.full_like(moved, epsilon), atol=1e-6),
            "in FGSM every pixel moves by exactly epsilon, up or down: the size of the gradient "
            "does not matter, only its direction")
    require(False, "the direction comes from the cross-entropy loss of the model's output and the "
            "true labels y, differentiated with respect to the input images")
