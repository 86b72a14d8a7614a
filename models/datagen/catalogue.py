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

BATCH_2: tuple[Family, ...] = (
    *b2_rumour.FAMILIES,
    *b2_panic.FAMILIES,
    *b2_gathering.FAMILIES,
    *b2_neg_a.FAMILIES,
    *b2_neg_b.FAMILIES,
)
BATCH_3: tuple[Family, ...] = (
    *b3_rumour.FAMILIES,
    *b3_panic.FAMILIES,
    *b3_gathering.FAMILIES,
    *b3_neg_a.FAMILIES,
    *b3_neg_b.FAMILIES,
)
BATCHES: tuple[tuple[Family, ...], ...] = (FAMILIES, BATCH_2, BATCH_3)
ALL_FAMILIES: tuple[Family, ...] = tuple(f for batch in BATCHES for f in batch)
