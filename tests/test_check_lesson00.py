"""Lesson 00's check: it measures the model itself, so only a trained, deeper MLP passes."""

import pytest
import torch

from dlcourse import data, train
from dlcourse.check import lesson00
from dlcourse.models import MLP


@pytest.fixture(scope="module")
def loaders():
    """The notebook's fast-mode data: 3,000 training images, the bundled test subset."""
    torch.manual_seed(0)
    train_set = data.load_bundled_subset("train").subset(3000, seed=0)
    test_set = data.load_bundled_subset("test")
    train_loader = data.TensorLoader(train_set, batch_size=128, shuffle=True, device="cpu", seed=0)
    test_loader = data.TensorLoader(test_set, batch_size=1000, shuffle=False, drop_last=False, device="cpu")
    return train_loader, test_loader


def _trained(model, loaders, num_epochs=3):
    train.fit(model, loaders[0], loaders[1], num_epochs=num_epochs, lr=3e-3, optimizer="adamw",
              progress=False)
    return model


def test_the_notebooks_solution_passes(loaders):
    torch.manual_seed(0)
    wider = _trained(MLP(28 * 28, [512, 128], 10), loaders)  # the notebook's solution, fast mode
    lesson00.first_model_accuracy(wider)
    assert wider.training  # the check leaves the model as it found it


def test_a_number_or_the_evaluate_pair_is_refused_with_a_hint():
    for typed in (0.85, 1.0, (0.41, 0.85), torch.tensor(0.9)):  # issue 11: a typed number passed
        with pytest.raises(AssertionError, match="Pass the trained model itself, not its accuracy"):
            lesson00.first_model_accuracy(typed)


def test_an_untrained_model_fails():
    torch.manual_seed(0)
    with pytest.raises(AssertionError, match="did it train"):
        lesson00.first_model_accuracy(MLP(28 * 28, [512, 128], 10))


def test_the_first_model_is_not_the_answer(loaders):
    torch.manual_seed(0)
    first = _trained(MLP(28 * 28, [128], 10), loaders, num_epochs=1)
    with pytest.raises(AssertionError, match="second hidden layer"):
        lesson00.first_model_accuracy(first)


def test_a_barely_trained_model_fails(loaders):
    torch.manual_seed(0)
    model = MLP(28 * 28, [512, 128], 10)
    train.fit(model, [next(iter(loaders[0]))], num_epochs=1, lr=1e-4, optimizer="sgd", progress=False)
    with pytest.raises(AssertionError, match="below 70%"):
        lesson00.first_model_accuracy(model)
