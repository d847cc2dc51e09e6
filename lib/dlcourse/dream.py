"""Changing the input instead of the weights: class visualization, DeepDream, adversarial examples.

Training follows -dLoss/dW; these methods freeze the network and follow the gradient with respect to
the image. Up the class score: the network's "fantasy" image of a class (Simonyan et al. 2014,
arXiv:1312.6034, with blur and jitter from Yosinski et al. 2015, arXiv:1506.06579). Up a layer's
activations on a real image: DeepDream (Mordvintsev et al. 2015). One step up the loss, as small as
possible: an adversarial example (FGSM, Goodfellow et al. 2015, arXiv:1412.6572).

Images are normalized like the training data (`data.normalize`); `epsilon` is in pixel units (1 is
the whole range black to white) and results are clipped to the range real images can take.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dlcourse.data import FASHION_MEAN, FASHION_STD
from dlcourse.interpret import check_images, class_score, get_layer, inspecting

# the values a normalized Fashion-MNIST pixel can take: black (0) and white (1)
BOUNDS = ((0 - FASHION_MEAN) / FASHION_STD, (1 - FASHION_MEAN) / FASHION_STD)


def gaussian_blur(X: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur each channel of X (B, C, H, W) with a Gaussian of `sigma` pixels (kernel 2*ceil(2s)+1)."""
    radius = max(1, math.ceil(2 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=X.dtype, device=X.device)
    g = torch.exp(-t ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    c = X.shape[1]
    X = F.conv2d(F.pad(X, (radius,) * 4, mode="reflect"), g.view(1, 1, 1, -1).repeat(c, 1, 1, 1),
                 groups=c)  # rows, then columns: a separable 2-D Gaussian
    return F.conv2d(X, g.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def _jitter(X: torch.Tensor, jitter: int, generator: torch.Generator) -> tuple[int, int]:
    """A random shift (dy, dx) in -jitter..jitter: the image must work wherever it sits."""
    if jitter == 0:
        return 0, 0
    dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=generator).tolist()
    return dy, dx


def class_visualization(model: nn.Module, classes: list[int] | torch.Tensor, steps: int = 100,
                        lr: float = 0.5, l2: float = 0.01, blur_every: int = 1, blur_sigma: float = 0.5,
                        jitter: int = 1, shape: tuple[int, int, int] = (1, 28, 28), seed: int = 0,
                        start: float = BOUNDS[0], bounds: tuple[float, float] = BOUNDS,
                        ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One image per class c that maximizes S_c(x) - l2 * ||x - start||^2 by gradient ascent on x.

    The search starts from the flat image `start` plus a little noise (default: black, the background
    of Fashion-MNIST; Simonyan et al. start from the mean, 0); the L2 penalty keeps it near there.

    Each step shifts x by a random jitter, takes a step of `lr` along the normalized gradient, shifts
    back and clips to `bounds`; every `blur_every` steps a light blur removes high-frequency noise.
    Returns the images (K, *shape) and the logits (K, num_classes) after every step.
    """
    target = torch.as_tensor(classes).long().reshape(-1)
    if steps < 1 or lr <= 0:
        raise ValueError(f"steps must be >= 1 and lr > 0, got steps={steps}, lr={lr}")
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    X = start + 0.1 * torch.randn((len(target), *shape), generator=generator)
    X, target, history = X.to(device), target.to(device), []
    with torch.enable_grad(), inspecting(model):
        for step in range(steps):
            dy, dx = _jitter(X, jitter, generator)
            Xj = torch.roll(X, (dy, dx), dims=(2, 3)).requires_grad_(True)
            logits = model(Xj)
            objective = class_score(logits, target) - l2 * ((Xj - start) ** 2).sum()
            (grad,) = torch.autograd.grad(objective, Xj)
            grad = grad / grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
            X = torch.roll(Xj.detach() + lr * grad, (-dy, -dx), dims=(2, 3)).clamp(*bounds)
            if blur_every and (step + 1) % blur_every == 0:
                X = gaussian_blur(X, blur_sigma)
            history.append(logits.detach().cpu())
        with torch.no_grad():
            history.append(model(X).cpu())
    return X.cpu(), history


def deep_dream(model: nn.Module, X: torch.Tensor, layer: str, steps: int = 30, lr: float = 0.05,
               jitter: int = 2, seed: int = 0,
               bounds: tuple[float, float] = BOUNDS) -> tuple[torch.Tensor, list[float]]:
    """Amplify what `layer` already sees in X: gradient ascent on the mean square of its activations.

    Returns the dreamed images and the objective (mean squared activation) before each step.
    """
    X = check_images(X).detach().clone()
    generator = torch.Generator().manual_seed(seed)
    kept: dict[str, torch.Tensor] = {}
    history = []
    with torch.enable_grad(), inspecting(model) as handles:
        handles.append(get_layer(model, layer).register_forward_hook(
            lambda m, inputs, output: kept.update(A=output)))
        for _ in range(steps):
            dy, dx = _jitter(X, jitter, generator)
            Xj = torch.roll(X, (dy, dx), dims=(2, 3)).requires_grad_(True)
            model(Xj)
            objective = (kept["A"] ** 2).mean()
            (grad,) = torch.autograd.grad(objective, Xj)
            grad = grad / grad.abs().mean().clamp_min(1e-12)  # a step of lr per pixel on average
            X = torch.roll(Xj.detach() + lr * grad, (-dy, -dx), dims=(2, 3)).clamp(*bounds)
            history.append(objective.item())
    return X, history


# ---------------------------------------------------------------- adversarial examples
def loss_gradient_sign(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """sign(dLoss/dX) (B, C, H, W): the direction in which every pixel raises the loss fastest."""
    X = check_images(X).detach().requires_grad_(True)
    with torch.enable_grad(), inspecting(model):  # works inside torch.no_grad() too
        loss = F.cross_entropy(model(X), y.to(X.device), reduction="sum")
        (grad,) = torch.autograd.grad(loss, X)
    return grad.sign()


def fgsm(model: nn.Module, X: torch.Tensor, y: torch.Tensor, epsilon: float, std: float = FASHION_STD,
         bounds: tuple[float, float] = BOUNDS) -> torch.Tensor:
    """The fast gradient sign method: X + epsilon * sign(dLoss/dX), clipped to real pixel values.

    epsilon is in pixel units (0.1 = a tenth of black-to-white); std converts it to normalized units.
    """
    if epsilon < 0:
        raise ValueError(f"epsilon must be >= 0 (in pixel units, 0..1), got {epsilon}")
    return (X + epsilon / std * loss_gradient_sign(model, X, y)).clamp(*bounds).detach()


@torch.no_grad()
def accuracy_under_fgsm(model: nn.Module, X: torch.Tensor, y: torch.Tensor, epsilons: list[float],
                        std: float = FASHION_STD, bounds: tuple[float, float] = BOUNDS,
                        batch_size: int = 1000) -> torch.Tensor:
    """Accuracy on FGSM images for each epsilon (len(epsilons),); the gradient is taken once."""
    correct = torch.zeros(len(epsilons))
    with inspecting(model):
        for start in range(0, len(X), batch_size):
            Xb, yb = X[start:start + batch_size], y[start:start + batch_size].to(X.device)
            direction = loss_gradient_sign(model, Xb, yb)
            for e, epsilon in enumerate(epsilons):
                X_adv = (Xb + epsilon / std * direction).clamp(*bounds)
                correct[e] += (model(X_adv).argmax(1) == yb).sum().item()
    return correct / len(X)


@torch.no_grad()
def smallest_flipping_epsilon(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                              epsilons: list[float], std: float = FASHION_STD,
                              bounds: tuple[float, float] = BOUNDS, batch_size: int = 1000) -> torch.Tensor:
    """(N,): the smallest epsilon of the sorted list whose FGSM image is misclassified (inf: none).

    An image the model already gets wrong has 0. FGSM is not monotone for one image (a bigger step can
    overshoot back to the right class), so this is the first flip on the grid, not a threshold.
    """
    if list(epsilons) != sorted(epsilons):
        raise ValueError(f"epsilons must be sorted ascending, got {list(epsilons)}")
    first = torch.full((len(X),), float("inf"))
    with inspecting(model):
        for start in range(0, len(X), batch_size):
            Xb, yb = X[start:start + batch_size], y[start:start + batch_size].to(X.device)
            direction = loss_gradient_sign(model, Xb, yb)
            found = first[start:start + batch_size]  # a view: filled in place
            found[(model(Xb).argmax(1) != yb).cpu()] = 0.0
            for epsilon in epsilons:
                flipped = (model((Xb + epsilon / std * direction).clamp(*bounds)).argmax(1) != yb).cpu()
                found[flipped & found.isinf()] = float(epsilon)
    return first
