"""dlcourse.check: the shared grading helpers, and what every check does as a grader."""

import importlib
import inspect
import json
import math
import pkgutil
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import dlcourse.check
from dlcourse.check._common import (
    NOT_ANSWERED,
    _test_images,
    answered,
    array,
    call,
    close,
    measure,
    module,
    number,
    require,
    whole_number,
)

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


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


def test_a_function_returning_none_gets_a_hint():
    with pytest.raises(AssertionError, match="returned None: end it with `return"):
        call(lambda x: None, 1, name="f")
    assert call(lambda x: None, 1, returns=False) is None


def test_whole_number_and_arrays():
    assert whole_number(np.int64(6272)) == 6272 and whole_number(torch.tensor(7.0)) == 7
    with pytest.raises(AssertionError, match="whole number"):
        whole_number(6272.5, "n")
    assert array(torch.ones(2, requires_grad=True)).tolist() == [1.0, 1.0]
    with pytest.raises(AssertionError, match="not answered yet"):
        array(None, "W1")
    with pytest.raises(AssertionError, match="should be numbers"):
        array("ab", "W1")


def test_module_hint_for_numbers_and_tuples():
    with pytest.raises(AssertionError, match="should be a torch.nn.Module, got tuple. Pass the model"):
        module((0.3, 0.85), "m", hint="Pass the model")
    with pytest.raises(AssertionError, match="not answered yet"):
        module(..., "m")


def test_close_accepts_any_numeric_type_and_says_which_way():
    close(np.float32(2.0), 2.0)
    close(torch.tensor(2.0), 2.0)
    with pytest.raises(AssertionError, match="is too large. Check the sign"):
        close(3.0, 2.0, hint="Check the sign")
    with pytest.raises(AssertionError, match="not answered yet"):
        close(..., 2.0)
    import dlcourse.check

    assert dlcourse.check.close is close


def test_measure_evaluates_on_the_bundled_test_images():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)).train()
    loss, acc = measure(model)
    assert model.training  # restored
    X, y = _test_images()
    assert len(y) == 2000 and X.shape == (2000, 1, 28, 28)
    with torch.no_grad():
        logits = model(X)
    assert acc == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert loss == pytest.approx(torch.nn.functional.cross_entropy(logits, y).item(), rel=1e-5)
    with pytest.raises(AssertionError, match=r"logits of shape \(B, 10\)"):
        measure(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 3)))


# --- every check, as a grader -----------------------------------------------------------------------

CHECKS = [name for name in dlcourse.check.__all__ if name != "close"]
def _first_annotation(name):
    return str(next(iter(inspect.signature(getattr(dlcourse.check, name)).parameters.values())).annotation)


# checks whose answer is a function (annotated Callable): nbgrader's student copy holds a stub there
FUNCTION_CHECKS = sorted(name for name in CHECKS if "Callable" in _first_annotation(name))


def _required(check):
    return [p for p in inspect.signature(check).parameters.values() if p.default is inspect.Parameter.empty]


@pytest.mark.parametrize("name", CHECKS)
@pytest.mark.parametrize("placeholder", [None, ...], ids=["None", "Ellipsis"])
def test_every_check_says_not_answered_for_placeholders(name, placeholder):
    check = getattr(dlcourse.check, name)
    with pytest.raises(AssertionError, match="is not answered yet: write your answer in the cell above"):
        check(*[placeholder] * len(_required(check)))


@pytest.mark.parametrize("name", FUNCTION_CHECKS)
def test_every_function_check_says_not_answered_for_an_untouched_stub(name):
    def stub(*args, **kwargs):
        """What nbgrader's student copy holds: the body is `raise NotImplementedError()`."""
        # YOUR CODE HERE
        raise NotImplementedError()

    check = getattr(dlcourse.check, name)
    assert len(_required(check)) == 1
    with pytest.raises(AssertionError, match="is not answered yet"):
        check(stub)


def test_function_checks_are_found():
    assert len(FUNCTION_CHECKS) >= 16 and {"perceptron_step", "densenet_transition"} <= set(FUNCTION_CHECKS)


def _lesson_checks(path):
    nb = json.loads(path.read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    return set(re.findall(r"dlcourse\.check\.(\w+)\(", text))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_lesson_calls_the_checks_of_its_own_module(path):
    module_name = f"dlcourse.check.lesson{path.name[:2]}"
    names = _lesson_checks(path)
    if not names:
        pytest.skip(f"{path.name} has no exercise checks")
    lesson = importlib.import_module(module_name)
    assert names <= set(lesson.__all__), f"{path.name} calls checks outside {module_name}"
    for name in names:
        assert getattr(dlcourse.check, name) is getattr(lesson, name)


def test_check_modules_are_named_after_lessons():
    modules = [m.name for m in pkgutil.iter_modules(dlcourse.check.__path__) if not m.name.startswith("_")]
    assert modules and all(re.fullmatch(r"lesson\d\d", m) for m in modules), modules
    lessons = {p.name[:2] for p in NOTEBOOKS}
    assert {m[-2:] for m in modules} <= lessons


# --- hints never contain the expected answer -----------------------------------------------------

NUMBER_RE = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][-+]?\d+)?")


def numbers_in(text):
    return [float(t.replace(",", "")) for t in NUMBER_RE.findall(text)]


def _same(a, b):
    return math.isclose(a, b, rel_tol=1e-3, abs_tol=0.0)


NUMBER_VALUED = {  # check -> the expected answer, argument by argument
    "mlp_param_count": [235146],
    "sigmoid_chain_bound": [0.25**10],
    "lecture_flatten_size": [6272],
    "zfnet_arithmetic": [110, 14208, 55, 26, 614656],
    "vgg16_receptive_field": [196],
    "skip_gradient_products": [0.1**20, 1.1**20],
    "resnet110_path_fraction": [sum(math.comb(54, k) for k in range(19, 36)) / 2**54],
    "stochastic_depth_expected_blocks": [sum(1 - 0.5 * k / 54 for k in range(1, 55))],
}


CONVERT = {  # the same number as Python, numpy and torch types
    "python": lambda v: int(v) if float(v).is_integer() else v,
    "float": float,
    "numpy_int64_or_float64": lambda v: np.int64(v) if float(v).is_integer() else np.float64(v),
    "numpy_float32": np.float32,
    "torch_scalar": lambda v: torch.tensor(v, dtype=torch.float64),
    "torch_1_element": lambda v: torch.tensor([v]),
    "numpy_0d": np.array,
}


@pytest.mark.parametrize("kind", sorted(CONVERT))
@pytest.mark.parametrize("name", sorted(NUMBER_VALUED))
def test_number_checks_accept_any_numeric_type(name, kind):
    getattr(dlcourse.check, name)(*[CONVERT[kind](v) for v in NUMBER_VALUED[name]])


@pytest.mark.parametrize("name", sorted(NUMBER_VALUED))
def test_number_check_hints_never_contain_the_expected_value(name):
    check, expected = getattr(dlcourse.check, name), NUMBER_VALUED[name]
    hints = []
    for i, v in enumerate(expected):
        for wrong in (None, ..., 0, 1, -v, v + 1, v - 1, v * 2, v / 2, v * 10, v / 10, v**2, v**0.5,
                      "text", [1, 2]):
            answer = list(expected)
            answer[i] = wrong
            with pytest.raises(AssertionError) as err:
                check(*answer)
            hints.append((str(err.value), wrong))
    assert len(hints) >= 15
    for hint, wrong in hints:
        echoed = float(wrong) if isinstance(wrong, (int, float)) else None  # "rf = 392 is not right"
        for value in expected:
            if echoed is None or not _same(value, echoed):
                assert not any(_same(n, value) for n in numbers_in(hint)), (hint, value)


def test_function_check_hints_never_contain_the_expected_values():
    hints = []
    for fn in (lambda i, o: 2.0 / (i + o), lambda i, o: (2.0 / i) ** 0.5, lambda i, o: (1.0 / (i + o)) ** 0.5,
               lambda i, o: 1.0):
        with pytest.raises(AssertionError) as err:
            dlcourse.check.glorot_std(fn)
        hints.append(str(err.value))
    for fn in (lambda ci, co, k, bias=True: co * ci * k * k, lambda ci, co, k, bias=True: ci * k * k + 1):
        with pytest.raises(AssertionError) as err:
            dlcourse.check.conv_param_count(fn)
        hints.append(str(err.value))
    expected = [(2.0 / (i + o)) ** 0.5 for i, o in [(784, 256), (256, 256), (100, 10)]]
    expected += [760, 156, 2080, 34848, 1160]
    for hint in hints:
        assert not any(_same(n, v) for n in numbers_in(hint) for v in expected), hint
