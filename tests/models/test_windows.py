"""Long texts are scored as overlapping windows, each signal taking its highest window."""

from __future__ import annotations

import itertools
import json

import pytest

from yujing.models.transformer import (
    ModelSpec,
    max_by_owner,
    text_windows,
)


def test_short_text_is_one_window() -> None:
    assert text_windows("短文本", 10, 4) == ["短文本"]
    assert text_windows("x" * 10, 10, 4) == ["x" * 10]


def test_windows_overlap_and_cover_the_whole_text() -> None:
    text = "".join(chr(0x4E00 + i) for i in range(100))
    ws = text_windows(text, 30, 20)
    assert all(len(w) == 30 for w in ws)
    assert ws[0] == text[:30] and ws[-1] == text[-30:]
    starts = [text.index(w) for w in ws]
    assert all(b - a < 30 for a, b in itertools.pairwise(starts))  # consecutive windows overlap
    covered = set().union(*(range(s, s + 30) for s in starts))
    assert covered == set(range(100))


def test_window_limit_keeps_first_and_last() -> None:
    text = "".join(chr(0x4E00 + i) for i in range(1000))
    ws = text_windows(text, 50, 3)
    assert len(ws) == 3 and ws[0] == text[:50] and ws[-1] == text[-50:]
    with pytest.raises(ValueError):
        text_windows(text, 0, 3)


def test_max_by_owner() -> None:
    rows = [[0.1, -2.0, 0.0], [0.5, -3.0, -1.0], [1.0, 1.0, 1.0]]
    assert max_by_owner(rows, [0, 0, 1], 2) == [[0.5, -2.0, 0.0], [1.0, 1.0, 1.0]]


def test_spec_windows_off_by_default_and_round_trips() -> None:
    spec = ModelSpec("m", "1")
    assert spec.windows(["a" * 1000]) == (["a" * 1000], [0])
    on = ModelSpec("m", "1", window_chars=300, max_windows=4)
    assert ModelSpec.from_dict(json.loads(on.to_json())) == on
    pieces, owners = on.windows(["a" * 1000, "短"])
    assert owners == [0, 0, 0, 0, 1] and pieces[-1] == "短"
