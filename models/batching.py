"""Length bucketing: batches of texts of similar length, so dynamic padding wastes little."""

from __future__ import annotations

from collections.abc import Sequence


def length_buckets(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of at most ``batch_size``, sorted by length (stable).

    Every index appears exactly once; callers put results back by index.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[k : k + batch_size] for k in range(0, len(order), batch_size)]
