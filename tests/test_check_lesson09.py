"""Lesson 09's checks: the notebook's solutions pass, realistic mistakes fail with a hint."""

import pytest
import torch

from dlcourse import augment, regularize
from dlcourse.check import lesson09


def my_dropout(x, p, training):
    """The notebook's solution."""
    if not training:
        return x
    mask = (torch.rand_like(x) >= p).float()
    return x * mask / (1 - p)


def test_inverted_dropout():
    lesson09.inverted_dropout(my_dropout)
    lesson09.inverted_dropout(lambda x, p, training: regularize.dropout(x, p, training))
    with pytest.raises(AssertionError, match="rescaled"):
        lesson09.inverted_dropout(lambda x, p, training: regularize.dropout(x, p, training, inverted=False))
    with pytest.raises(AssertionError, match="probability of dropping"):
        lesson09.inverted_dropout(lambda x, p, training: my_dropout(x, 1 - p, training))  # p kept
    with pytest.raises(AssertionError, match="test time"):
        lesson09.inverted_dropout(lambda x, p, training: my_dropout(x, p, True))
    with pytest.raises(AssertionError, match="test time"):
        lesson09.inverted_dropout(lambda x, p, training: my_dropout(x, p, True) if training else x * (1 - p))


def test_soft_threshold():
    lesson09.soft_threshold(lambda w, t: w.sign() * (w.abs() - t).clamp(min=0))  # the notebook's solution
    with pytest.raises(AssertionError, match="overshoot"):
        lesson09.soft_threshold(lambda w, t: w - t * w.sign())
    with pytest.raises(AssertionError, match="overshoot"):  # a hard threshold keeps the big ones whole
        lesson09.soft_threshold(lambda w, t: torch.where(w.abs() > t, w, torch.zeros_like(w)))


@torch.no_grad()
def flip_tta(model, X):
    """The notebook's solution."""
    return (model(X).softmax(-1) + model(X.flip(-1)).softmax(-1)) / 2


def test_flip_tta():
    lesson09.flip_tta(flip_tta)
    lesson09.flip_tta(lambda model, X: augment.tta_probs(model, X, scales=(28,)))
    with pytest.raises(AssertionError, match="not the logits"):
        lesson09.flip_tta(lambda model, X: (model(X) + model(X.flip(-1))).softmax(-1))
    with pytest.raises(AssertionError, match="width axis"):
        lesson09.flip_tta(lambda model, X: (model(X).softmax(-1) + model(X.flip(-2)).softmax(-1)) / 2)
    with pytest.raises(AssertionError, match="shape"):
        lesson09.flip_tta(lambda model, X: flip_tta(model, X).mean(0))
