"""Lesson 10's checks: the notebook's solutions pass, realistic mistakes fail with a hint."""

import pytest
import torch

from dlcourse import transfer
from dlcourse.check import lesson10


def freeze_all_but_head(model):
    """The notebook's solution."""
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("head."))
    return model


def test_freeze_all_but_head():
    lesson10.freeze_all_but_head(freeze_all_but_head)
    lesson10.freeze_all_but_head(lambda model: transfer.freeze(model, ["block1", "block2"]))

    def in_place(model):  # returns nothing: fine, it changed the model it was given
        freeze_all_but_head(model)

    lesson10.freeze_all_but_head(in_place)
    with pytest.raises(AssertionError, match="head and nothing else"):
        lesson10.freeze_all_but_head(lambda model: transfer.freeze(model, ["block1"]))
    with pytest.raises(AssertionError, match="head and nothing else"):
        lesson10.freeze_all_but_head(lambda model: model.requires_grad_(False))
    with pytest.raises(AssertionError, match="head and nothing else"):
        lesson10.freeze_all_but_head(lambda model: model.eval())  # eval() freezes nothing


def test_ensemble_average():
    lesson10.ensemble_average(lambda zs: torch.stack([z.softmax(-1) for z in zs]).mean(0))  # the solution
    with pytest.raises(AssertionError, match="probabilities first"):
        lesson10.ensemble_average(lambda zs: torch.stack(zs).mean(0).softmax(-1))
    with pytest.raises(AssertionError, match="shape"):
        lesson10.ensemble_average(lambda zs: torch.stack([z.softmax(-1) for z in zs]).mean(1))


def test_ema_update():
    lesson10.ema_update(lambda avg, new, decay: decay * avg + (1 - decay) * new)  # the notebook's solution
    with pytest.raises(AssertionError, match="small step"):
        lesson10.ema_update(lambda avg, new, decay: (1 - decay) * avg + decay * new)
    with pytest.raises(AssertionError, match="small step"):
        lesson10.ema_update(lambda avg, new, decay: (avg + new) / 2)
