"""Which pixels made the network say "sneaker"? Attribution maps, each written with hooks.

Every method here reads a network from the outside: forward hooks record a layer's output, backward
hooks read (or change) the gradient that flows through a layer, and all hooks are removed when the
method returns, so the model is left exactly as it was (eval mode inside, its train/eval flag and
any in-place ReLUs restored afterwards). Each is tested against captum (tests/test_interpret.py).

    saliency                   |dS_c/dx|                  Simonyan et al. 2014, arXiv:1312.6034
    gradient, deconvnet,       three ReLU backward rules  Springenberg et al. 2015, arXiv:1412.6806
      guided_backprop
    grad_cam, guided_grad_cam  gradient-weighted maps     Selvaraju et al. 2017, arXiv:1610.02391
    occlusion                  score drop under a patch   Zeiler & Fergus 2014, arXiv:1311.2901
    integrated_gradients       path-averaged gradients    Sundararajan et al. 2017, arXiv:1703.01365

`X` is a normalized batch (B, C, H, W); `target` is a class index, a (B,) tensor of them, or None
(the predicted class). Layers are named as in `dlcourse.summary(model, ...)`, e.g. "block2.3".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

Target = int | torch.Tensor | None
RULES = ("backprop", "deconvnet", "guided")  # what a ReLU passes back, see relu_backward_rule


# ---------------------------------------------------------------- plumbing: inputs, layers, hooks
def check_images(X: object) -> torch.Tensor:
    """X itself if it is a float batch (B, C, H, W); otherwise a ValueError that says how to fix it."""
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a torch.Tensor of images (B, C, H, W), got {type(X).__name__}")
    if not X.is_floating_point():
        raise ValueError(f"X has dtype {X.dtype}: the network expects normalized float images; "
                         "use data.normalize(X) or dataset.normalized(idx)")
    if X.ndim != 4:
        hint = " (one image: add the batch axis with X[None])" if X.ndim == 3 else ""
        raise ValueError(f"X must be a batch (B, C, H, W), got shape {tuple(X.shape)}{hint}")
    return X


def get_layer(model: nn.Module, layer: str | nn.Module) -> nn.Module:
    """The sub-module called `layer` (a name from model.named_modules(), e.g. "block2.3")."""
    if isinstance(layer, nn.Module):
        if not any(m is layer for m in model.modules()):
            raise ValueError(f"{type(layer).__name__} is not a part of this model")
        return layer
    modules = dict(model.named_modules())
    if layer not in modules or not layer:
        names = [n for n, m in modules.items() if n and not list(m.children())]
        raise KeyError(f"no layer called {layer!r}; this model's layers are {names}")
    return modules[layer]


@contextmanager
def inspecting(model: nn.Module) -> Iterator[list]:
    """Eval mode and out-of-place ReLUs while we look inside; yields a list for hook handles.

    Every handle put in the list is removed on exit and the model's mode and ReLUs are restored, even
    if an error stops the method half-way. (A backward hook cannot see an in-place ReLU's input: the
    ReLU overwrote it.)
    """
    was_training = model.training
    inplace = [m for m in model.modules() if isinstance(m, nn.ReLU) and m.inplace]
    for relu in inplace:
        relu.inplace = False
    model.eval()
    handles: list = []
    try:
        yield handles
    finally:
        for handle in handles:
            handle.remove()
        for relu in inplace:
            relu.inplace = True
        model.train(was_training)


def targets(model: nn.Module, X: torch.Tensor, target: Target) -> torch.Tensor:
    """The (B,) class indices to explain: `target` spread over the batch, or the predicted classes."""
    if target is None:
        with torch.no_grad(), inspecting(model):
            return model(X).argmax(1)
    target = torch.as_tensor(target, device=X.device).long().reshape(-1)
    if len(target) == 1:
        target = target.expand(len(X))
    if len(target) != len(X):
        raise ValueError(f"target has {len(target)} classes for {len(X)} images: give one class, "
                         "one per image, or None for the predicted classes")
    return target


def class_score(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """S_c: the unnormalized score (logit) of each image's target class, summed over the batch."""
    if int(target.max()) >= logits.shape[1] or int(target.min()) < 0:
        raise ValueError(f"target classes must be in 0..{logits.shape[1] - 1}, got {target.tolist()}")
    return logits.gather(1, target[:, None]).sum()


# ---------------------------------------------------------------- forward hooks: what each layer says
def layer_outputs(model: nn.Module, X: torch.Tensor, layers: list[str] | None = None) -> dict:
    """{name: output} of every leaf layer (or of `layers`) for the batch X, recorded by forward hooks."""
    X = check_images(X)
    names = layers or [n for n, m in model.named_modules() if n and not list(m.children())]
    outputs: dict[str, torch.Tensor] = {}

    def record(name: str) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            outputs[name] = output.detach()
        return hook

    with torch.no_grad(), inspecting(model) as handles:
        for name in names:
            handles.append(get_layer(model, name).register_forward_hook(record(name)))
        model(X)
    return outputs


# ---------------------------------------------------------------- gradients and the ReLU rules
def relu_backward_rule(rule: str) -> Callable:
    """A backward hook for nn.ReLU that passes the gradient back by `rule`.

    With the ReLU's input x and the gradient g arriving from above:
      "backprop"  (the true gradient)  g * [x > 0]
      "deconvnet" (Zeiler & Fergus)    max(g, 0)            ignores x
      "guided"    (Springenberg)       max(g, 0) * [x > 0]  only where both are positive
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")

    def hook(module: nn.Module, grad_input: tuple, grad_output: tuple) -> tuple | None:
        if rule == "deconvnet":
            return (F.relu(grad_output[0]),)
        if rule == "guided":
            return (F.relu(grad_input[0]),)  # grad_input = g * [x > 0] already
        return None  # backprop: keep autograd's gradient
    return hook


def input_gradient(model: nn.Module, X: torch.Tensor, target: Target = None,
                   rule: str = "backprop") -> torch.Tensor:
    """dS_c/dX (B, C, H, W) with every nn.ReLU passing gradients back by `rule`."""
    X = check_images(X).detach().requires_grad_(True)
    target = targets(model, X, target)
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    if rule != "backprop" and not relus:
        raise ValueError(f"the {rule!r} rule changes the backward pass of nn.ReLU modules, and this "
                         "model has none (F.relu in forward() cannot be hooked): use nn.ReLU layers")
    with torch.enable_grad(), inspecting(model) as handles:  # works inside torch.no_grad() too
        for relu in relus:
            handles.append(relu.register_full_backward_hook(relu_backward_rule(rule)))
        (grad,) = torch.autograd.grad(class_score(model(X), target), X)
    return grad


def gradient(model: nn.Module, X: torch.Tensor, target: Target = None) -> torch.Tensor:
    """Plain backprop: dS_c/dX (B, C, H, W), signed."""
    return input_gradient(model, X, target, "backprop")


def saliency(model: nn.Module, X: torch.Tensor, target: Target = None) -> torch.Tensor:
    """Saliency |dS_c/dX| (B, C, H, W): how much each pixel can move the class score (Simonyan 2014).

    For colour images Simonyan et al. take the maximum over channels: saliency(...).amax(1).
    """
    return gradient(model, X, target).abs()


def deconvnet(model: nn.Module, X: torch.Tensor, target: Target = None) -> torch.Tensor:
    """The "deconvnet" reconstruction (Zeiler & Fergus 2014): ReLUs pass back only positive gradients."""
    return input_gradient(model, X, target, "deconvnet")


def guided_backprop(model: nn.Module, X: torch.Tensor, target: Target = None) -> torch.Tensor:
    """Guided backpropagation (Springenberg et al. 2015): ReLUs pass back max(g, 0) where x > 0."""
    return input_gradient(model, X, target, "guided")


def trace_relu(model: nn.Module, X: torch.Tensor, relu: str | nn.Module, target: Target = None,
               rule: str = "guided") -> dict:
    """One ReLU seen in a backward pass by `rule`: its input x, the gradient g arriving from above,
    and the gradient it passes on (all (B, C, H, W)), recorded by hooks beside the rule's own."""
    module = get_layer(model, relu)
    if not isinstance(module, nn.ReLU):
        raise ValueError(f"layer {relu!r} is a {type(module).__name__}, not an nn.ReLU")
    X = check_images(X).detach().requires_grad_(True)
    target = targets(model, X, target)
    seen: dict[str, torch.Tensor] = {}

    def remember_input(m: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        seen["relu_input"] = inputs[0].detach()

    def remember_gradients(m: nn.Module, grad_input: tuple, grad_output: tuple) -> None:
        seen["incoming"] = grad_output[0].detach()

    def remember_passed(grad: torch.Tensor) -> None:  # the ReLU's input gradient, after all hooks
        seen["passed"] = grad.detach()

    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    with torch.enable_grad(), inspecting(model) as handles:
        handles.append(module.register_forward_hook(remember_input))
        handles.append(module.register_full_backward_hook(remember_gradients))
        for m in relus:
            handles.append(m.register_full_backward_hook(relu_backward_rule(rule)))
        handles.append(module.register_forward_pre_hook(
            lambda m, inputs: handles.append(inputs[0].register_hook(remember_passed))))
        torch.autograd.grad(class_score(model(X), target), X)
    return seen


# ---------------------------------------------------------------- Grad-CAM
def layer_gradient_and_output(model: nn.Module, X: torch.Tensor, target: Target,
                              layer: str | nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(dS_c/dA, A) for the output A of `layer`, by a forward hook that keeps A in the graph."""
    X = check_images(X)
    target = targets(model, X, target)
    kept: dict[str, torch.Tensor] = {}

    def keep(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        kept["A"] = output

    with torch.enable_grad(), inspecting(model) as handles:
        handles.append(get_layer(model, layer).register_forward_hook(keep))
        score = class_score(model(X.detach().requires_grad_(True)), target)
        (grad,) = torch.autograd.grad(score, kept["A"])
    return grad, kept["A"].detach()


def last_conv_layer(model: nn.Module) -> str:
    """The name of the last Conv2d, or of the BatchNorm/ReLU right after it: Grad-CAM's usual layer."""
    leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
    convs = [i for i, (_, m) in enumerate(leaves) if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("the model has no nn.Conv2d: name the layer for Grad-CAM with layer=")
    i = convs[-1]
    while i + 1 < len(leaves) and isinstance(leaves[i + 1][1], (nn.BatchNorm2d, nn.ReLU)):
        i += 1
    return leaves[i][0]


def grad_cam(model: nn.Module, X: torch.Tensor, target: Target = None,
             layer: str | nn.Module | None = None, upsample: bool = True) -> torch.Tensor:
    """Grad-CAM (B, 1, H, W): ReLU(sum_k alpha_k A_k), alpha_k = spatial mean of dS_c/dA_k.

    A is the output of a convolutional `layer` (B, K, h, w), by default last_conv_layer(model); with
    upsample=True the map is enlarged to the input size by nearest-neighbour interpolation.
    """
    layer = last_conv_layer(model) if layer is None else layer
    grad, A = layer_gradient_and_output(model, X, target, layer)
    if A.ndim != 4:
        raise ValueError(f"Grad-CAM needs a convolutional layer with (B, K, h, w) output; "
                         f"{layer!r} gives shape {tuple(A.shape)}")
    alpha = grad.mean(dim=(2, 3), keepdim=True)  # (B, K, 1, 1): how much map k matters for class c
    cam = F.relu((alpha * A).sum(1, keepdim=True))  # (B, 1, h, w)
    return F.interpolate(cam, size=X.shape[2:], mode="nearest") if upsample else cam


def guided_grad_cam(model: nn.Module, X: torch.Tensor, target: Target = None,
                    layer: str | nn.Module | None = None) -> torch.Tensor:
    """Guided Grad-CAM (B, C, H, W): guided backprop's fine detail times Grad-CAM's coarse location."""
    return guided_backprop(model, X, target) * grad_cam(model, X, target, layer)


# ---------------------------------------------------------------- perturbation: occlusion
@torch.no_grad()
def occlusion_drops(model: nn.Module, X: torch.Tensor, target: Target = None, window: int = 6,
                    stride: int = 2, baseline: float = 0.0, batch_size: int = 512) -> torch.Tensor:
    """(B, nh, nw): S_c(x) - S_c(x with a grey square over window (r, s)), Zeiler & Fergus's experiment.

    A `window` x `window` patch of value `baseline` (0 = the data's mean after normalization) covers
    rows r*stride .. r*stride + window - 1 (and the same for columns) of every image; where the stride
    does not tile the image, the last square is cut off at the edge, so every pixel is covered once.
    """
    X = check_images(X)
    b, _, h, w = X.shape
    if not 1 <= window <= min(h, w) or stride < 1:
        raise ValueError(f"window must be in 1..{min(h, w)} and stride >= 1, got {window}, {stride}")
    target = targets(model, X, target)
    nh, nw = -(-(h - window) // stride) + 1, -(-(w - window) // stride) + 1  # ceil: cover all
    windows = [(r * stride, s * stride) for r in range(nh) for s in range(nw)]
    per_batch = max(1, batch_size // b)  # windows per forward pass
    drops = []
    with inspecting(model):
        base = model(X).gather(1, target[:, None])  # (B, 1)
        for start in range(0, len(windows), per_batch):
            chunk = windows[start:start + per_batch]
            occluded = X.repeat(len(chunk), 1, 1, 1)  # (len(chunk) * B, C, H, W), window-major
            for i, (top, left) in enumerate(chunk):
                occluded[i * b:(i + 1) * b, :, top:top + window, left:left + window] = baseline
            scores = model(occluded).gather(1, target.repeat(len(chunk))[:, None])
            drops.append(base - scores.view(len(chunk), b).T)  # (B, len(chunk))
    return torch.cat(drops, 1).view(b, nh, nw)


def occlusion(model: nn.Module, X: torch.Tensor, target: Target = None, window: int = 6,
              stride: int = 2, baseline: float = 0.0) -> torch.Tensor:
    """Occlusion sensitivity (B, 1, H, W): each pixel gets the mean score drop of the windows over it."""
    drops = occlusion_drops(model, X, target, window, stride, baseline)  # (B, nh, nw)
    b, nh, nw = drops.shape
    total = torch.zeros(b, 1, *X.shape[2:], device=X.device)
    count = torch.zeros(1, 1, *X.shape[2:], device=X.device)
    for r in range(nh):
        for s in range(nw):
            rows, cols = slice(r * stride, r * stride + window), slice(s * stride, s * stride + window)
            total[:, 0, rows, cols] += drops[:, r, s, None, None]
            count[:, 0, rows, cols] += 1
    return total / count


# ---------------------------------------------------------------- integrated gradients
def integrated_gradients(model: nn.Module, X: torch.Tensor, target: Target = None,
                         baseline: torch.Tensor | float = 0.0, steps: int = 32) -> torch.Tensor:
    """Integrated gradients (B, C, H, W): (X - X0) times the mean gradient on the path X0 -> X.

    Midpoint Riemann sum over `steps` points; the attributions add up to about S_c(X) - S_c(X0)
    (exactly, as steps grow).
    """
    X = check_images(X)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    target = targets(model, X, target)
    X0 = torch.as_tensor(baseline, dtype=X.dtype, device=X.device).expand_as(X)
    alphas = (torch.arange(steps, dtype=X.dtype, device=X.device) + 0.5) / steps  # midpoints
    path = X0 + alphas.view(-1, 1, 1, 1, 1) * (X - X0)  # (steps, B, C, H, W)
    grads = gradient(model, path.flatten(0, 1), target.repeat(steps)).view(path.shape)
    return (X - X0) * grads.mean(0)


def map_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B,) Pearson correlation between maps a[i] and b[i]: 1 = the same picture up to scale."""
    a, b = a.flatten(1).float(), b.flatten(1).float()
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)


METHODS: dict[str, Callable] = {  # what the explorer widget offers: name -> f(model, X, target)
    "saliency |dS/dx|": saliency,
    "gradient (backprop)": gradient,
    "deconvnet": deconvnet,
    "guided backprop": guided_backprop,
    "Grad-CAM": grad_cam,
    "guided Grad-CAM": guided_grad_cam,
    "occlusion": occlusion,
    "integrated gradients": integrated_gradients,
}


def explain(model: nn.Module, X: torch.Tensor, target: Target, method: str) -> torch.Tensor:
    """The map of METHODS[method] for X and target, reduced to (B, H, W) (max |.| over channels)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    attribution = METHODS[method](model, X, target)
    return attribution.abs().amax(1) if method not in ("Grad-CAM", "occlusion") else attribution[:, 0]
