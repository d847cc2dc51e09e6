"""dlcourse.check._common: the shared grading helpers."""

import numpy as np
import pytest
import torch

from dlcourse.check._common import NOT_ANSWERED, answered, call, number, require


@pytest.mark.parametrize("value", [None, ...])
def test_placeholders_are_not_answered(value):
    with pytest.raises(AssertionError, match="x is not answered yet: write your answer in the cell above"):
        answered(value, "x")
    with pytest.raises(AssertionError, match=NOT_ANSWERED[:20]):
        number(value, "x")


@pytest.mark.parametrize("value", [6272, 6272.0, np.int64(6272), np.float32(6272), torch.tensor(6272),
                                   torch.tensor([6272.0]), np.array(6272)])
def test_any_numeric_type_is_a_number(value):
    assert number(value) == 6272.0


@pytest.mark.parametrize("value", ["6272", [6272], True, torch.ones(2)])
def test_non_numbers_get_a_hint(value):
    with pytest.raises(AssertionError, match="should be (a|one) number"):
        number(value, "flatten_size")


def test_an_untouched_stub_is_not_answered():
    def stub(x):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="my_pool is not answered yet"):
        call(stub, 1, name="my_pool")
    assert call(lambda x: x + 1, 1) == 2
    with pytest.raises(AssertionError, match="should be a function"):
        call(3)


def test_require():
    require(True, "never shown")
    with pytest.raises(AssertionError, match="^the hint$"):
        require(False, "the hint")
