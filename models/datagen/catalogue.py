"""Every template family, batch by batch, in the order the batches were written.

Batch 1 is :mod:`families` (2026-11-30). Batch 2 (2026-12-01) came in five topic modules, ``b2_*``: new
phrasings written after the held-out test split showed the model generalising poorly to unseen ones. Batch 3
(also 2026-12-01) came in five more modules, ``b3_*``, aimed at the situations the dev split still showed
the model missing: deferred-repayment plans, news reports of gatherings and of circulating claims, and
look-alike negatives (group trips, debunks by telephone, product questions).
:func:`compose.assign_groups` splits each batch's groups on its own, so a new batch adds train, dev and test
groups without moving old ones.
"""

from __future__ import annotations

from types import ModuleType

from yujing.models.datagen import (
    b2_gathering,
    b2_neg_a,
    b2_neg_b,
    b2_panic,
    b2_rumour,
    b3_gathering,
    b3_neg_a,
    b3_neg_b,
    b3_panic,
    b3_rumour,
)
from yujing.models.datagen.families import FAMILIES, Family


def _batch(*modules: ModuleType) -> tuple[Family, ...]:
    """The families of a batch's topic modules, in the order given."""
    return tuple(f for module in modules for f in module.FAMILIES)


BATCH_2 = _batch(b2_rumour, b2_panic, b2_gathering, b2_neg_a, b2_neg_b)
BATCH_3 = _batch(b3_rumour, b3_panic, b3_gathering, b3_neg_a, b3_neg_b)
BATCHES: tuple[tuple[Family, ...], ...] = (FAMILIES, BATCH_2, BATCH_3)
ALL_FAMILIES: tuple[Family, ...] = tuple(f for batch in BATCHES for f in batch)
