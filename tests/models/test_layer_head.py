"""The linear head on frozen features (pure torch, no model): fitting, weighting, the L2 choice, folding."""

from __future__ import annotations

import pytest
import torch

from yujing.models.layer_head import LinearHead, Part, choose_decay, fit_head, log_loss, text_max


def toy_part(n: int, seed: int, windows: int = 1) -> Part:
    """``n`` texts of ``windows`` windows each; a text has signal j when feature j of one of its windows is high."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n * windows, 8, generator=g) * 0.5 + 3.0  # off-centre and scaled, so folding has work to do
    y = (torch.rand(n, 3, generator=g) < 0.3).float()
    owners = torch.arange(n).repeat_interleave(windows)
    for i in range(n):
        for j in range(3):
            if y[i, j]:
                x[i * windows + (i + j) % windows, j] += 2.0
    return {"x": x, "owners": owners, "y": y}


def test_text_max_takes_each_columns_highest_window_per_text() -> None:
    logits = torch.tensor([[0.0, 5.0], [2.0, -1.0], [7.0, 7.0]])
    owners = torch.tensor([0, 0, 2])
    out = text_max(logits, owners, 3)
    assert out[0].tolist() == [2.0, 5.0] and out[2].tolist() == [7.0, 7.0]
    assert bool((out[1] < -1e8).all())  # a text without windows never reads as a signal


def test_a_fitted_head_separates_the_signals_and_folds_into_one_linear_layer() -> None:
    train, test = toy_part(300, 0, windows=3), toy_part(200, 1, windows=3)
    head = fit_head([train], 1e-3)
    pred = head.probs(test) >= 0.5
    accuracy = (pred == test["y"].bool()).float().mean().item()
    assert accuracy > 0.95
    weight, bias = head.folded()
    assert weight.shape == (3, 8) and bias.shape == (3,)
    raw = text_max(test["x"] @ weight.T + bias, test["owners"], len(test["y"]))
    assert torch.allclose(raw, head.logits(test), atol=1e-4)


def test_a_parts_weight_counts_like_repeating_its_texts() -> None:
    a, b = toy_part(60, 2), toy_part(30, 3)
    weighted = fit_head([a, b], 1e-3, weights=[1.0, 2.0])
    repeated = fit_head([a, b, b], 1e-3)
    # the standardisation differs (b's windows counted twice there), so compare what the heads decide
    assert torch.allclose(weighted.probs(b), repeated.probs(b), atol=0.05)
    unweighted = fit_head([a, b], 1e-3)
    assert not torch.allclose(weighted.w, unweighted.w, atol=1e-3)


def test_choose_decay_keeps_the_head_with_the_lowest_dev_log_loss() -> None:
    train, dev = toy_part(80, 4), toy_part(80, 5)
    head, losses = choose_decay([train], [dev], decays=(1e-4, 1e-1, 10.0))
    assert set(losses) == {1e-4, 1e-1, 10.0}
    assert head.decay == min(losses, key=lambda d: losses[d])
    assert losses[head.decay] == pytest.approx(log_loss(head, [dev]))
    assert losses[10.0] > losses[head.decay]  # a head held near zero predicts nothing


def test_fit_head_refuses_bad_weights_and_no_texts() -> None:
    part = toy_part(10, 6)
    with pytest.raises(ValueError, match=r"one positive weight per part \(1\), got \[1.0, 2.0\]"):
        fit_head([part], 1e-3, weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="no training texts"):
        fit_head([], 1e-3)
    assert isinstance(fit_head([part], 1e-3, steps=1), LinearHead)
