"""CCC (population moments) against a numpy reference; the losses; accuracy."""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from eeea.metrics import accuracy, ccc, ccc_loss, ccc_mse_loss, ccc_report


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


def test_losses_are_differentiable_and_minimal_at_the_target():
    target = torch.rand(16, 3)
    pred = torch.rand(16, 3, requires_grad=True)
    loss = ccc_loss(pred, target)
    loss.backward()
    assert pred.grad is not None and loss.item() > 0
    assert ccc_loss(target, target).item() < 1e-6
    assert ccc_mse_loss(target, target).item() < 1e-6


def test_accuracy():
    logits = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert abs(accuracy(logits, torch.tensor([1, 0, 0])) - 2 / 3) < 1e-6
    assert accuracy(logits, torch.tensor([1, 0, 0]), topk=2) == 1.0
