"""Exercise checks for notebook 00 (welcome: a first model in seconds).

Every name in __all__ becomes `dlcourse.check.<name>`; each passes quietly or raises AssertionError
with a hint that guides without giving the answer.
"""

from __future__ import annotations

from torch import nn

from dlcourse.check._common import measure, module, require

__all__ = ["first_model_accuracy"]

MIN_ACCURACY = 0.70  # the first model (one hidden layer of 128) gets ~0.8 in fast mode


def first_model_accuracy(model: nn.Module) -> None:
    """Exercise 1: the wider, deeper MLP, measured here on the bundled test images, beats 70%."""
    model = module(model, "your new model", hint="Pass the trained model itself, not its accuracy "
                   "or the (loss, accuracy) pair of train.evaluate: the check measures it for you.")
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    require(len(linears) >= 3, f"this model has {len(linears)} nn.Linear layers: the exercise asks for a "
            "second hidden layer (pass the new model, not the first one)")
    _, acc = measure(model)
    require(acc >= MIN_ACCURACY, f"on the test images this model is right {acc:.1%} of the time, below "
            f"{MIN_ACCURACY:.0%}: did it train? Pass the new model to train.fit (with a learning rate "
            "above 0) before checking it")
