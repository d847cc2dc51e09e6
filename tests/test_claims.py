"""dlcourse.claims.expect: a lesson's measured claims as checks."""

import json

import numpy as np
import pytest
import torch

import dlcourse
from dlcourse.claims import ClaimError, expect


def test_a_claim_that_holds_prints_it_with_the_numbers(capsys):
    assert expect(0.31 > 0.22, "the deeper plain net trains worse", plain20=0.31, plain8=0.22) is None
    assert capsys.readouterr().out.strip() == \
        "claim holds: the deeper plain net trains worse (plain20=0.31, plain8=0.22)"


def test_a_contradicted_claim_fails_with_its_words():
    with pytest.raises(ClaimError, match=r"contradicts the lesson's claim 'augmentation helps' "
                                         r"\(measured aug=0.708, plain=0.773\)"):
        expect(0.708 > 0.773, "augmentation helps", aug=0.708, plain=0.773)
    assert issubclass(ClaimError, AssertionError) and dlcourse.expect is expect


def test_tensor_and_numpy_conditions():
    expect(torch.tensor(True), "a tensor truth value")
    expect(np.float64(2.0) > 1, "a numpy truth value")
    with pytest.raises(ClaimError):
        expect(torch.tensor(0.5) > 1.0, "a false tensor", x=torch.tensor(0.5))


@pytest.mark.parametrize("condition", [torch.ones(3) > 0, 1, 0.0, "yes", None])
def test_a_condition_must_be_one_truth_value(condition):
    with pytest.raises(TypeError, match="condition must be"):
        expect(condition, "some claim")


def test_a_claim_needs_words():
    with pytest.raises(TypeError, match="claim's words"):
        expect(True, "  ")


def test_claims_are_logged_for_the_matrix(tmp_path, monkeypatch):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv("DLCOURSE_CLAIMS_LOG", str(log))
    expect(True, "first", acc=torch.tensor(0.5))
    with pytest.raises(ClaimError):
        expect(False, "second")
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert rows == [{"claim": "first", "ok": True, "measured": {"acc": "0.5"}},
                    {"claim": "second", "ok": False, "measured": {}}]
