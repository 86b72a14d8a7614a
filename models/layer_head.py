"""A linear head fitted on frozen features: logistic regression, one logit per window, a text's logit the max
over its windows (as the scorer takes it). Pure torch, no I/O.

A part is one set of texts: ``{"x": [windows, features], "owners": [windows] (the text of each window),
"y": [texts, labels]}``. Features are standardised on the training windows; :meth:`LinearHead.folded` turns the
fitted head into the weight and bias of a plain linear layer on the raw features, which is how a model ships it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Part = dict[str, torch.Tensor]
DECAYS = (1e-4, 1e-3, 1e-2, 3e-2)  # L2 on standardised features; chosen by dev log loss


def text_max(window_logits: torch.Tensor, owners: torch.Tensor, n: int) -> torch.Tensor:
    """Per text, the maximum over its windows of each column."""
    out = torch.full((n, window_logits.shape[1]), -1e9, dtype=window_logits.dtype)
    return out.scatter_reduce(0, owners[:, None].expand_as(window_logits), window_logits, "amax")


@dataclass(frozen=True)
class LinearHead:
    mu: torch.Tensor  # [features]
    sd: torch.Tensor  # [features]
    w: torch.Tensor  # [features, labels]
    b: torch.Tensor  # [labels]
    decay: float

    def logits(self, part: Part) -> torch.Tensor:
        return _logits(part, self.mu, self.sd, self.w, self.b)

    def probs(self, part: Part) -> torch.Tensor:
        return torch.sigmoid(self.logits(part))

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(weight [labels, features], bias [labels]) of the same head on unstandardised features."""
        scaled = self.w / self.sd[:, None]
        return scaled.T.contiguous(), self.b - self.mu @ scaled


def _logits(part: Part, mu: torch.Tensor, sd: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return text_max((part["x"] - mu) / sd @ w + b, part["owners"], len(part["y"]))


def fit_head(
    parts: Sequence[Part], decay: float, weights: Sequence[float] | None = None, steps: int = 300, lr: float = 0.05
) -> LinearHead:
    """Logistic regression by full-batch Adam from zero. Each text's loss counts ``weights[k]`` for a text of
    ``parts[k]`` (1 by default); positives weigh sqrt((1 - rate) / rate), half-way (in log terms) to balanced
    classes, since gathering is a few per cent of texts."""
    if not parts:
        raise ValueError("fit_head: no training texts")
    wts = [1.0] * len(parts) if weights is None else [float(x) for x in weights]
    if len(wts) != len(parts) or any(x <= 0 for x in wts):
        raise ValueError(f"fit_head: expected one positive weight per part ({len(parts)}), got {list(wts)}")
    x = torch.cat([p["x"] for p in parts])
    mu, sd = x.mean(0), x.std(0).clamp(min=1e-6)
    y = torch.cat([p["y"] for p in parts])
    rate = y.mean(0).clamp(1e-3, 0.5)
    pos_weight = ((1 - rate) / rate).sqrt()
    total = sum(wt * len(p["y"]) for p, wt in zip(parts, wts, strict=True))
    w = torch.zeros(x.shape[1], y.shape[1], requires_grad=True)
    b = torch.zeros(y.shape[1], requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.zeros(())
        for p, wt in zip(parts, wts, strict=True):
            bce = F.binary_cross_entropy_with_logits(
                _logits(p, mu, sd, w, b), p["y"], pos_weight=pos_weight, reduction="sum"
            )
            loss = loss + wt * bce
        objective = loss / total + decay * (w * w).sum()
        objective.backward()  # type: ignore[no-untyped-call]
        opt.step()
    return LinearHead(mu, sd, w.detach(), b.detach(), decay)


def log_loss(head: LinearHead, parts: Sequence[Part]) -> float:
    probs = torch.cat([head.probs(p) for p in parts]).clamp(1e-6, 1 - 1e-6)
    return float(F.binary_cross_entropy(probs, torch.cat([p["y"] for p in parts])).item())


def choose_decay(
    train: Sequence[Part],
    dev: Sequence[Part],
    weights: Sequence[float] | None = None,
    decays: Sequence[float] = DECAYS,
) -> tuple[LinearHead, dict[float, float]]:
    """The head, among one fitted per L2 weight, with the lowest log loss on ``dev``; and every decay's loss."""
    losses: dict[float, float] = {}
    best: LinearHead | None = None
    for decay in decays:
        head = fit_head(train, decay, weights)
        losses[decay] = log_loss(head, dev)
        if best is None or losses[decay] < losses[best.decay]:
            best = head
    if best is None:
        raise ValueError("choose_decay: no L2 weights to choose from")
    return best, losses
