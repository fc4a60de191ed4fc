"""CCC (population moments) against a numpy reference; the losses; accuracy."""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from eeea.metrics import accuracy, ccc, ccc_loss, ccc_mean_loss, ccc_mse_loss, ccc_report


def ccc_numpy(x: np.ndarray, y: np.ndarray) -> float:
    mx, my = x.mean(), y.mean()
    cov = np.mean((x - mx) * (y - my))
    return 2 * cov / (np.var(x) + np.var(y) + (mx - my) ** 2)


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, (20, 3), elements=st.floats(-5, 5)), arrays(np.float64, (20, 3), elements=st.floats(-5, 5)))
def test_ccc_matches_numpy_population_reference(x, y):
    ours = ccc(x, y, eps=0.0).numpy()
    for d in range(3):
        denom = np.var(x[:, d]) + np.var(y[:, d]) + (x[:, d].mean() - y[:, d].mean()) ** 2
        if denom > 1e-6:
            assert abs(ours[d] - ccc_numpy(x[:, d], y[:, d])) < 1e-9


def test_ccc_properties_and_report():
    y = np.random.default_rng(0).random((50, 3))
    assert np.allclose(ccc(y, y).numpy(), 1.0)
    assert np.all(ccc(y + 0.5, y).numpy() < 1.0)  # an offset costs concordance, not correlation
    report = ccc_report(y * 0.5, y)
    assert set(report) == {"ccc_arousal", "ccc_dominance", "ccc_valence", "ccc", "1-ccc"}
    assert abs(report["1-ccc"] - (1 - report["ccc"])) < 1e-12


def test_the_mean_gap_term_leaves_a_student_with_the_targets_mean_to_ccc_alone():
    y = torch.as_tensor(np.random.default_rng(3).random((16, 3)))
    pred = 0.3 * (y - y.mean(0)) + y.mean(0) + torch.as_tensor(np.random.default_rng(4).normal(0, 0.1, (16, 3)))
    pred = pred - pred.mean(0) + y.mean(0)
    assert torch.allclose(ccc_mean_loss(pred, y), ccc_loss(pred, y))
    assert ccc_mean_loss(pred + 0.5, y) > ccc_loss(pred + 0.5, y) + 0.2


def test_losses_are_differentiable_and_minimal_at_the_target():
    target = torch.rand(16, 3)
    pred = torch.rand(16, 3, requires_grad=True)
    loss = ccc_loss(pred, target)
    loss.backward()
    assert pred.grad is not None and loss.item() > 0
    assert ccc_loss(target, target).item() < 1e-6
    assert ccc_mse_loss(target, target).item() < 1e-6
    assert ccc_mean_loss(target, target).item() < 1e-6


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.floats(1.0, 5.0), st.floats(0.05, 1.0))
def test_a_wrong_way_student_escapes_under_ccc_alone_but_returns_when_the_mean_is_held(seed, offset, slope):
    """The stall behind students stuck at CCC 0 (the SER default loss is ccc+mean): while a student's outputs correlate
    negatively with the targets, 1 - CCC alone falls as the outputs' mean moves *away* from the targets' (the
    denominator grows), so descent drives the offset up and the signal to nothing; once the offset is a target range
    or more, the mean-gap term (or an MSE term) outweighs that and pulls it back."""
    y = torch.as_tensor(np.random.default_rng(seed).random((16, 3)))
    shift = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    for loss, away in ((ccc_loss, True), (ccc_mean_loss, False), (ccc_mse_loss, False)):
        pred = -slope * (y - y.mean(0)) + y.mean(0) + offset + shift  # `offset` above the targets, anti-correlated
        (grad,) = torch.autograd.grad(loss(pred, y), shift)
        assert (float(grad) < 0) == away  # descent raises the shift (away from the targets) only under ccc alone


def test_accuracy():
    logits = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert abs(accuracy(logits, torch.tensor([1, 0, 0])) - 2 / 3) < 1e-6
    assert accuracy(logits, torch.tensor([1, 0, 0]), topk=2) == 1.0
